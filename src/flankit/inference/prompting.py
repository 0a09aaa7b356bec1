"""Prompt building: few-shot patterns, a versioned prompt registry, and prefix normalization.

What:
- `build_few_shot` joins exemplars and a query with a named `FewShotPattern` (input/target
  prefixes, delimiter, exemplar separator), optionally dropping exemplars to fit a token budget.
- `PromptRegistry` holds named, versioned `str.format` templates loaded from YAML (the packaged
  `prompts.yaml` plus any user files) with `list`, `render` and `validate`.
- `normalize_prompt` maps equivalent prompts ("Question: x", "Q:  x\\r\\n") to one canonical form,
  so caches, dedup and robustness reports treat them as the same prompt.

The prompt guard used by serving lives in `flankit.inference.guard`.

How:
    reg = default_registry()
    reg.render("summarize", text="...")          # latest version
    build_few_shot("2+3?", [("1+1?", "2")], pattern="qa")

Refs: FLAN few-shot formatting (Wei et al. 2022, Chung et al. 2022), promptsource-style named
templates (Bach et al. 2022).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from flankit.config import read_mapping
from flankit.errors import ConfigError, InputTooLongError, UnknownNameError
from flankit.registry import Registry, suggest

DEFAULT_PROMPTS = Path(__file__).with_name("prompts.yaml")


# ----------------------------------------------------------------------------- few-shot patterns
@dataclass(frozen=True)
class FewShotPattern:
    """How one exemplar is laid out: `{input_prefix}{input}{delimiter}{target_prefix}{target}`.

    Exemplars are joined with `separator`; the query ends with `target_prefix` (stripped of
    trailing spaces) so the model continues with the answer.
    """

    name: str
    input_prefix: str = ""
    target_prefix: str = ""
    delimiter: str = "\n"
    separator: str = "\n\n"

    def exemplar(self, source: str, target: str) -> str:
        return f"{self.input_prefix}{source}{self.delimiter}{self.target_prefix}{target}"

    def query(self, source: str) -> str:
        return f"{self.input_prefix}{source}{self.delimiter}{self.target_prefix}".rstrip(" ")


PATTERNS: Registry[FewShotPattern] = Registry("few-shot pattern")
for _p in (
    FewShotPattern("qa", "Q: ", "A: "),
    FewShotPattern("question_answer", "Question: ", "Answer: "),
    FewShotPattern("input_output", "Input: ", "Output: "),
    FewShotPattern("flan", "", "", delimiter="\n", separator="\n\n"),
    FewShotPattern("arrow", "", "", delimiter=" => ", separator="\n"),
):
    PATTERNS.add(_p.name, _p)


def _pair(ex: Sequence[str] | dict) -> tuple[str, str]:
    """An exemplar as (input, target): a 2-tuple or a dict with input(s)/target(s) keys."""
    if isinstance(ex, dict):
        for src, tgt in (("input", "target"), ("inputs", "targets")):
            if src in ex and tgt in ex:
                return str(ex[src]), str(ex[tgt])
        raise ConfigError(f"exemplar {ex!r} needs 'input' and 'target' (or 'inputs'/'targets') keys")
    if isinstance(ex, (list, tuple)) and len(ex) == 2:
        return str(ex[0]), str(ex[1])
    raise ConfigError(f"exemplar {ex!r} must be an (input, target) pair or a dict with input/target")


def build_few_shot(
    query: str,
    exemplars: Iterable[Sequence[str] | dict] = (),
    pattern: str | FewShotPattern = "qa",
    *,
    instruction: str | None = None,
    max_tokens: int | None = None,
    count_tokens: Callable[[str], int] | None = None,
) -> str:
    """Build a few-shot prompt: optional instruction, exemplars, then the query.

    Args:
        query: the input the model should answer.
        exemplars: (input, target) pairs or dicts with input/target (or inputs/targets) keys.
        pattern: a `FewShotPattern` or the name of a builtin one (`PATTERNS.names()`).
        instruction: text placed before the exemplars (e.g. a task description).
        max_tokens: token budget; trailing exemplars are dropped until the prompt fits.
        count_tokens: token counter for `max_tokens` (typically `engine.count_tokens`).

    Raises:
        InputTooLongError: the prompt exceeds `max_tokens` even with no exemplars.
    """
    pat = PATTERNS.get(pattern) if isinstance(pattern, str) else pattern
    shots = [pat.exemplar(*_pair(ex)) for ex in exemplars]
    head = [instruction.strip()] if instruction and instruction.strip() else []

    def render(n: int) -> str:
        return pat.separator.join(head + shots[:n] + [pat.query(query)])

    if max_tokens is None:
        return render(len(shots))
    if count_tokens is None:
        raise ConfigError("build_few_shot: max_tokens needs count_tokens (e.g. engine.count_tokens)")
    for n in range(len(shots), -1, -1):
        prompt = render(n)
        if count_tokens(prompt) <= max_tokens:
            return prompt
    raise InputTooLongError(
        f"the query alone takes {count_tokens(render(0))} tokens, over the budget of {max_tokens}; "
        "shorten it or use flankit.inference.long_input for long inputs"
    )


# ----------------------------------------------------------------------------- prompt registry
def template_fields(text: str) -> list[str]:
    """Names of the `{field}` placeholders in a `str.format` template, in order, deduplicated.

    Raises:
        ConfigError: malformed braces, or attribute/index access (`{x.y}`, `{x[0]}`), which is
            refused because rendering user-supplied values must not reach object attributes.
    """
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ConfigError(
            f"malformed template {text[:60]!r}: {exc} (write literal braces as {{{{ }}}})"
        ) from None
    for _, name, _, _ in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise ConfigError(f"template field {{{name}}} must be a plain name (letters, digits, _)")
        if name not in names:
            names.append(name)
    return names


@dataclass(frozen=True)
class PromptTemplate:
    """One named, versioned prompt template (`str.format` syntax)."""

    name: str
    version: int
    template: str
    description: str = ""
    defaults: dict = field(default_factory=dict, hash=False)
    source: str = ""

    @property
    def fields(self) -> list[str]:
        return template_fields(self.template)

    @property
    def key(self) -> str:
        return f"{self.name}@v{self.version}"

    def render(self, **variables: object) -> str:
        """Fill the template; a missing variable raises `ConfigError` naming template and field."""
        values = {**self.defaults, **variables}
        missing = [f for f in self.fields if f not in values]
        if missing:
            raise ConfigError(
                f"prompt {self.key}: missing variable(s) {', '.join(missing)}; "
                f"it needs {', '.join(self.fields)} (pass them as name=value)"
            )
        return self.template.format(**{f: values[f] for f in self.fields})


_TEMPLATE_KEYS = {"name", "version", "template", "description", "defaults"}


def _parse_entry(entry: object, where: str) -> PromptTemplate:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: each prompt must be a mapping with name, version, template")
    unknown = sorted(set(entry) - _TEMPLATE_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}.{suggest(unknown[0], sorted(_TEMPLATE_KEYS))}"
        )
    for key in ("name", "template"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ConfigError(f"{where}: {key!r} is required and must be a non-empty string")
    version = entry.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ConfigError(f"{where} ({entry['name']}): version must be a positive integer, got {version!r}")
    defaults = entry.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{where} ({entry['name']}): defaults must be a mapping")
    return PromptTemplate(
        entry["name"], version, entry["template"], str(entry.get("description", "")), defaults, where
    )


class PromptRegistry:
    """Named, versioned prompt templates. `get(name)` returns the latest version."""

    def __init__(self, templates: Iterable[PromptTemplate] = ()):
        self._items: dict[str, dict[int, PromptTemplate]] = {}
        for t in templates:
            self.add(t)

    def add(self, template: PromptTemplate, *, overwrite: bool = False) -> PromptTemplate:
        versions = self._items.setdefault(template.name, {})
        if template.version in versions and not overwrite:
            raise ConfigError(
                f"prompt {template.key} is defined twice ({versions[template.version].source or 'code'} "
                f"and {template.source or 'code'}); bump the version of one of them"
            )
        versions[template.version] = template
        return template

    def load(self, path: str | Path, *, overwrite: bool = False) -> PromptRegistry:
        """Add the templates of a YAML file (`prompts: [{name, version, template, ...}]`)."""
        entries = read_mapping(path).get("prompts")
        if not isinstance(entries, list):
            raise ConfigError(f"{path}: expected a top-level 'prompts:' list of templates")
        for i, entry in enumerate(entries):
            self.add(_parse_entry(entry, f"{path}: prompts[{i}]"), overwrite=overwrite)
        return self

    def get(self, name: str, version: int | None = None) -> PromptTemplate:
        if name not in self._items:
            known = self.names()
            raise UnknownNameError(
                f"Unknown prompt {name!r}.{suggest(name, known)} Known: {', '.join(known)}."
            )
        versions = self._items[name]
        if version is None:
            return versions[max(versions)]
        if version not in versions:
            raise UnknownNameError(f"prompt {name!r} has no version {version}; versions: {sorted(versions)}")
        return versions[version]

    def names(self) -> list[str]:
        return sorted(self._items)

    def list(self) -> list[PromptTemplate]:
        """Every template, all versions, sorted by name then version."""
        return [self._items[n][v] for n in self.names() for v in sorted(self._items[n])]

    def render(self, name: str, version: int | None = None, /, **variables: object) -> str:
        return self.get(name, version).render(**variables)

    def validate(self) -> list[str]:
        """Check that every template parses and renders; returns problems (empty when all fine)."""
        problems = []
        for t in self.list():
            try:
                t.render(**{f: f"<{f}>" for f in t.fields})
            except (ConfigError, ValueError, IndexError, KeyError) as exc:
                problems.append(f"{t.key} ({t.source or 'code'}): {exc}")
        return problems

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return sum(len(v) for v in self._items.values())


@lru_cache(maxsize=1)
def _packaged() -> tuple[PromptTemplate, ...]:
    return tuple(PromptRegistry().load(DEFAULT_PROMPTS).list())


def default_registry() -> PromptRegistry:
    """A fresh registry holding the packaged templates (safe to extend)."""
    return PromptRegistry(_packaged())


def load_registry(*paths: str | Path, include_default: bool = True) -> PromptRegistry:
    """The packaged templates (unless `include_default=False`) plus the given YAML files."""
    reg = default_registry() if include_default else PromptRegistry()
    for p in paths:
        reg.load(p)
    return reg


# ----------------------------------------------------------------------------- normalization
# Canonical label -> aliases recognised at the start of a line ("Question:", "Q :", "QUERY:").
PREFIX_ALIASES: dict[str, tuple[str, ...]] = {
    "Q:": ("q", "question", "query"),
    "A:": ("a", "answer", "ans"),
    "": ("instruction", "instructions", "task", "prompt"),
}
_ALIAS_TO_LABEL = {alias: label for label, aliases in PREFIX_ALIASES.items() for alias in aliases}
_PREFIX_RE = re.compile(r"^(?P<alias>[A-Za-z]+)\s*:[ \t]*", re.MULTILINE)
_PUNCT = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)


def normalize_prompt(text: str, *, prefixes: str = "unify") -> str:
    """Canonical form of a prompt, so equivalent phrasings compare equal.

    Always: Unicode NFKC, curly quotes and dashes made ASCII, CRLF to LF, runs of spaces/tabs
    to one space, no spaces at line ends, at most one blank line in a row, outer whitespace
    stripped.

    Args:
        prefixes: what to do with line-start labels listed in `PREFIX_ALIASES`:
            "unify" maps question aliases to "Q:", answer aliases to "A:" and drops
            instruction labels ("Instruction:", "Task:"); "strip" drops all of them (a bare
            question); "keep" leaves them.
    """
    if prefixes not in ("unify", "strip", "keep"):
        raise ConfigError(f"prefixes must be 'unify', 'strip' or 'keep', got {prefixes!r}")
    text = unicodedata.normalize("NFKC", text).translate(_PUNCT).replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if prefixes != "keep":

        def relabel(m: re.Match) -> str:
            label = _ALIAS_TO_LABEL.get(m.group("alias").lower())
            if label is None:
                return m.group(0)
            return f"{label} " if label and prefixes == "unify" else ""

        # Labels can be stacked ("Instruction: Question: ..."); relabel until nothing changes.
        while (relabelled := _PREFIX_RE.sub(relabel, text)) != text:
            text = relabelled
        # An empty trailing "A:" cue loses its space; a stripped one may leave blank lines.
        text = re.sub(r" +$", "", text, flags=re.MULTILINE).strip()
    return text
