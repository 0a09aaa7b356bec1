"""Chain-of-thought prompting, final-answer extraction, and self-consistency voting.

What:
- `add_trigger` appends a reasoning trigger ("Let's think step by step.") to a prompt.
- `extract_answer` pulls the final answer out of a rationale with an ordered list of named
  extractors (`EXTRACTORS`: "so_the_answer_is", "gsm8k", "the_answer_is", "last_number",
  "first_option") or custom regexes with one capture group; with answer options, the
  extracted text is mapped back to the option it names.
- `chain_of_thought` runs the engine: greedy for k=1, or k sampled rationales per prompt with a
  majority vote over their extracted answers (self-consistency).

How:
    results = chain_of_thought(engine, ["Q: 3 apples plus 4 apples?"], k=5, seed=0)
    results[0].answer, results[0].votes, results[0].rationales

Works with any object that has `Engine.generate(prompts, config=None, **overrides)`.
Refs: Wei et al. 2022 (chain of thought), Kojima et al. 2022 (zero-shot trigger),
Wang et al. 2023 (self-consistency), FLAN 2022 CoT templates ("So the answer is ...").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flankit.errors import ConfigError
from flankit.registry import Registry

COT_TRIGGER = "Let's think step by step."

Extractor = Callable[[str, Sequence[str] | None], str | None]
EXTRACTORS: Registry[Extractor] = Registry("answer extractor")

_NUMBER = r"-?\$?\d[\d,]*(?:\.\d+)?"


def _clean(answer: str) -> str:
    """Trim whitespace, wrapping quotes/brackets and trailing punctuation from an answer span."""
    answer = answer.strip().strip("\"'`*").strip()
    answer = re.sub(r"[.!;,]+$", "", answer).strip()
    return answer.strip("\"'`*").strip()


def _number(text: str) -> str:
    """Canonical number text: no thousands commas, no dollar sign, no trailing '.0'."""
    text = text.replace(",", "").replace("$", "")
    return text[:-2] if text.endswith(".0") else text


def _last_match(pattern: str, text: str) -> str | None:
    # The model may restate the pattern mid-rationale; the last statement is the final answer.
    matches = re.findall(pattern, text, flags=re.IGNORECASE)
    return _clean(matches[-1]) if matches else None


@EXTRACTORS.register("so_the_answer_is")
def _so_answer(text: str, options: Sequence[str] | None) -> str | None:
    return _last_match(r"so the (?:final )?answer is:?\s*([^\n]+?)(?:\.(?:\s|$)|\n|$)", text)


@EXTRACTORS.register("gsm8k")
def _gsm8k(text: str, options: Sequence[str] | None) -> str | None:
    found = re.findall(rf"####\s*({_NUMBER})", text)
    return _number(found[-1]) if found else None


@EXTRACTORS.register("the_answer_is")
def _the_answer(text: str, options: Sequence[str] | None) -> str | None:
    return _last_match(r"\banswer(?: is|:)\s*:?\s*([^\n]+?)(?:\.(?:\s|$)|\n|$)", text)


@EXTRACTORS.register("last_number")
def _last_number(text: str, options: Sequence[str] | None) -> str | None:
    found = re.findall(_NUMBER, text)
    return _number(found[-1]) if found else None


def _mentions(option: str, text: str) -> re.Match | None:
    return re.search(rf"(?<!\w){re.escape(option)}(?!\w)", text, flags=re.IGNORECASE)


@EXTRACTORS.register("first_option")
def _first_option(text: str, options: Sequence[str] | None) -> str | None:
    """The option mentioned earliest in the text (longest option first on equal positions)."""
    hits = [(m.start(), -len(o), o) for o in options or () if (m := _mentions(o, text))]
    return min(hits)[2] if hits else None


DEFAULT_PATTERNS = ("so_the_answer_is", "gsm8k", "the_answer_is", "first_option", "last_number")


def _to_option(answer: str, options: Sequence[str]) -> str | None:
    for opt in options:
        if answer.lower() == opt.lower():
            return opt
    return _first_option(answer, options)


def extract_answer(
    text: str,
    patterns: Sequence[str | re.Pattern] = DEFAULT_PATTERNS,
    options: Sequence[str] | None = None,
) -> str | None:
    """The final answer stated in `text`, or None when no pattern matches.

    Args:
        text: a model rationale/output.
        patterns: tried in order; each is an `EXTRACTORS` name, or a regex (string containing
            a capture group, or compiled) whose last match's first group is the answer.
        options: when given, an extracted answer is mapped to the option it names (case and
            surrounding words ignored); answers naming no option are skipped.
    """
    for pat in patterns:
        if isinstance(pat, re.Pattern) or (pat not in EXTRACTORS and "(" in pat):
            found = _custom(pat, text)
        else:  # an unknown name raises UnknownNameError with a suggestion
            found = EXTRACTORS.get(pat)(text, options)
        if found and options:
            found = _to_option(found, options)
        if found:
            return found
    return None


def _custom(pat: str | re.Pattern, text: str) -> str | None:
    try:
        regex = pat if isinstance(pat, re.Pattern) else re.compile(pat, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"answer pattern {pat!r} is not a valid regex: {exc}") from None
    if regex.groups < 1:
        raise ConfigError(f"answer pattern {regex.pattern!r} needs a capture group around the answer")
    matches = list(regex.finditer(text))
    return _clean(matches[-1].group(1)) if matches else None


def add_trigger(prompt: str, trigger: str = COT_TRIGGER, separator: str = "\n") -> str:
    """`prompt` followed by the reasoning trigger (no-op if the prompt already ends with it)."""
    prompt = prompt.rstrip()
    return prompt if prompt.endswith(trigger) else f"{prompt}{separator}{trigger}"


@dataclass
class CoTResult:
    """One prompt's chain-of-thought outcome."""

    answer: str | None
    votes: dict[str, int] = field(default_factory=dict)
    rationales: list[str] = field(default_factory=list)
    answers: list[str | None] = field(default_factory=list)  # extracted per rationale

    @property
    def agreement(self) -> float:
        """Share of the k samples that voted for the winning answer (0.0 when none)."""
        if self.answer is None or not self.rationales:
            return 0.0
        return self.votes[self.answer] / len(self.rationales)


def majority_vote(answers: Sequence[str | None]) -> tuple[str | None, dict[str, int]]:
    """Most common non-None answer (ties go to the one seen first) and the vote counts."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None, {}
    best = max(counts.values())
    winner = next(a for a in answers if a is not None and counts[a] == best)
    return winner, dict(counts)


def _texts(generation: object) -> list[str]:
    seqs = getattr(generation, "sequences", None)
    return [str(s) for s in seqs] if seqs else [str(generation)]


def chain_of_thought(
    engine,
    prompts: list[str],
    k: int = 1,
    patterns: Sequence[str | re.Pattern] = DEFAULT_PATTERNS,
    config=None,
    *,
    options: Sequence[str] | Sequence[Sequence[str]] | None = None,
    trigger: str | None = COT_TRIGGER,
    temperature: float = 0.7,
    seed: int | None = None,
) -> list[CoTResult]:
    """Chain-of-thought answers, with self-consistency voting when k > 1.

    Args:
        engine: object with `generate(prompts, config=None, **overrides)` (the Engine API).
        prompts: questions; `trigger` is appended unless None (or already present).
        k: rationales per prompt. k=1 decodes with `config` as given (greedy by default);
            k>1 samples k rationales (`do_sample=True`, `num_return_sequences=k`,
            `temperature`, `seed`) and majority-votes their extracted answers.
        patterns: extractors or regexes for `extract_answer`, tried in order.
        config: a GenerationConfig (max_new_tokens etc.); the sampling fields above override it.
        options: one option list for all prompts, or one list per prompt; answers are mapped
            to options.
        trigger: reasoning trigger appended to every prompt.
        temperature: sampling temperature for k > 1.
        seed: sampling seed for k > 1 (reproducible votes).

    Returns:
        one `CoTResult` per prompt, in input order.
    """
    if k < 1:
        raise ConfigError(f"chain_of_thought: k must be >= 1, got {k}")
    per_prompt = _per_prompt_options(options, len(prompts))
    inputs = [add_trigger(p, trigger) if trigger else p for p in prompts]
    overrides: dict = {}
    if k > 1:
        overrides = dict(do_sample=True, num_return_sequences=k, temperature=temperature)
        if seed is not None:
            overrides["seed"] = seed
    generations = engine.generate(inputs, config, **overrides)
    results = []
    for gen, opts in zip(generations, per_prompt, strict=True):
        rationales = _texts(gen)
        answers = [extract_answer(r, patterns, opts) for r in rationales]
        winner, votes = majority_vote(answers)
        results.append(CoTResult(winner, votes, rationales, answers))
    return results


def _per_prompt_options(options, n: int) -> list[Sequence[str] | None]:
    if not options:
        return [None] * n
    if all(isinstance(o, str) for o in options):
        return [list(options)] * n
    if len(options) != n:
        raise ConfigError(
            f"got {len(options)} option lists for {n} prompts; give one list per prompt or one shared list"
        )
    return [list(o) for o in options]
