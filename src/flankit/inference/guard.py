"""Prompt guard: cheap heuristic filters that reject suspicious prompts with a reason.

What: named regex rules in two families, checked on a normalized, lower-cased copy of the
prompt:
- injection: "ignore previous instructions", requests to reveal the system/hidden prompt,
  role overrides ("you are now DAN", "developer mode");
- contradiction: self-contradictory instructions ("answer yes and no", "in one word ... in
  detail"), which a small model cannot satisfy and usually signal a probing prompt.

How (serving calls it before decoding):
    guard = PromptGuard(GuardConfig(rules=["ignore_instructions", "yes_and_no"]))
    verdict = guard.check(prompt)
    if not verdict.allowed: return 400, verdict.reason

These are heuristics, not a security boundary: they catch common phrasings and are meant to
be extended through `GuardConfig.extra_patterns`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flankit.config import field
from flankit.errors import ConfigError
from flankit.inference.prompting import normalize_prompt
from flankit.registry import Registry


@dataclass(frozen=True)
class GuardRule:
    """One filter: a name, a family (injection|contradiction|custom), a regex, and a reason."""

    name: str
    family: str
    pattern: re.Pattern
    reason: str


_BRIEF = r"(?:in (?:one|1|a single) (?:word|sentence)|one-word|in (?:\d+|two|three|five|ten) words|be brief|briefly|very short)"
_LONG = (
    r"(?:in (?:great |full |exhaustive )?detail|at length|elaborate|thoroughly|comprehensive(?:ly)?|in depth)"
)

RULES: Registry[GuardRule] = Registry("guard rule")
for _name, _family, _regex, _reason in (
    (
        "ignore_instructions",
        "injection",
        r"\b(?:ignore|disregard|forget|override|bypass)\b(?: (?:all|any|every|the|your|of))* "
        r"(?:previous|prior|above|earlier|preceding|original|system|initial)? ?"
        r"(?:instructions?|prompts?|rules|directions|guidelines|context)",
        "possible prompt injection: asks to ignore the instructions it was given",
    ),
    (
        "system_prompt_extraction",
        "injection",
        r"\b(?:reveal|show|print|repeat|output|display|leak|tell me|what (?:is|are|was|were)|give me)\b"
        r"[^.?!\n]{0,40}\b(?:system|hidden|initial|original|secret|developer) ?(?:prompt|instructions?|message)",
        "possible prompt injection: asks to reveal the system or hidden prompt",
    ),
    (
        "role_override",
        "injection",
        r"\b(?:you are now|from now on you are|pretend (?:that )?you have no (?:rules|restrictions)|"
        r"developer mode|jailbreak|do anything now)\b",
        "possible prompt injection: tries to override the model's role or rules",
    ),
    (
        "yes_and_no",
        "contradiction",
        r"\b(?:answer|say|reply|respond)(?: with)?(?: both)? ['\"]?(?:yes|true)['\"]? and ['\"]?(?:no|false)\b",
        "self-contradictory instruction: asks for both yes and no",
    ),
    (
        "brief_and_detailed",
        "contradiction",
        rf"\b{_BRIEF}\b[^\n]{{0,120}}\b{_LONG}\b|\b{_LONG}\b[^\n]{{0,120}}\b{_BRIEF}\b",
        "self-contradictory instruction: asks for a very short answer and a detailed one",
    ),
    (
        "always_and_never",
        "contradiction",
        r"\balways (\w+)\b[^\n]{0,80}\bnever \1\b|\bnever (\w+)\b[^\n]{0,80}\balways \2\b",
        "self-contradictory instruction: asks to always and never do the same thing",
    ),
):
    RULES.add(_name, GuardRule(_name, _family, re.compile(_regex), _reason))


@dataclass
class GuardConfig:
    """Which filters the prompt guard applies."""

    enabled: bool = field(True, help="turn the guard off entirely when false")
    rules: list[str] = field(default_factory=lambda: RULES.names(), help="builtin rule names to apply")
    extra_patterns: dict = field(
        default_factory=dict, help="name -> regex (case-insensitive) of extra patterns that reject a prompt"
    )
    max_chars: int = field(0, help="reject prompts longer than this many characters (0 = no limit)")


@dataclass(frozen=True)
class GuardVerdict:
    """Result of a check: `allowed`, and for a rejection the rule, its reason and matched text."""

    allowed: bool
    rule: str | None = None
    reason: str | None = None
    match: str | None = None


class PromptGuard:
    """Applies a `GuardConfig`; unknown rule names and bad regexes fail at construction."""

    def __init__(self, config: GuardConfig | None = None):
        self.config = config or GuardConfig()
        self.rules = [RULES.get(name) for name in self.config.rules]
        for name, regex in self.config.extra_patterns.items():
            try:
                pattern = re.compile(regex, re.IGNORECASE)
            except re.error as exc:
                raise ConfigError(f"guard extra pattern {name!r}: invalid regex {regex!r}: {exc}") from None
            self.rules.append(GuardRule(name, "custom", pattern, f"matched blocked pattern {name!r}"))

    def check(self, prompt: str) -> GuardVerdict:
        """The first rule the prompt trips, or `GuardVerdict(allowed=True)`."""
        if not self.config.enabled:
            return GuardVerdict(True)
        if self.config.max_chars and len(prompt) > self.config.max_chars:
            return GuardVerdict(
                False,
                "max_chars",
                f"prompt has {len(prompt)} characters, over the limit of {self.config.max_chars}",
            )
        text = normalize_prompt(prompt, prefixes="keep").lower()
        for rule in self.rules:
            m = rule.pattern.search(text)
            if m:
                return GuardVerdict(False, rule.name, f"{rule.reason} ({m.group(0)!r})", m.group(0))
        return GuardVerdict(True)

    def check_many(self, prompts: list[str]) -> list[GuardVerdict]:
        return [self.check(p) for p in prompts]


def check_prompt(prompt: str, config: GuardConfig | None = None) -> GuardVerdict:
    """One-off check with a default (or given) configuration."""
    return PromptGuard(config).check(prompt)
