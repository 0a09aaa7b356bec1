"""Inputs longer than the encoder budget: sliding windows, aggregation, map-reduce summaries.

What:
- `split_windows` cuts a text into token windows (via `engine.tokenizer` offsets, so windows
  are exact slices of the original text) with `overlap` tokens shared by neighbours; each
  window fits the budget once wrapped in the prompt template.
- `classify_long` classifies every window (`engine.classify`) and aggregates: mean of the
  option probabilities, majority vote, or the single most confident window.
- `extract_long` asks a question of every window (`engine.generate`) and keeps the answer by
  vote or by confidence (each candidate scored against every window with `engine.classify`).
- `summarize_long` is hierarchical map-reduce: summarize the windows, join the summaries, and
  repeat until the text fits, then summarize once more.

Nothing is silently truncated: over-long input is windowed, and `truncate=True` keeps only the
first window and warns how many tokens were cut.

How:
    classify_long(engine, long_review, ["positive", "negative"], template="{text}\\nSentiment?")
    summarize_long(engine, report, config=GenerationConfig(max_new_tokens=60)).text

Refs: sliding-window QA (BERT SQuAD doc stride, Devlin et al. 2019); recursive summarization
(Wu et al. 2021, "Recursively summarizing books with human feedback").
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from flankit.errors import ConfigError, DataError, InputTooLongError, ModelError
from flankit.inference.answers import majority_vote
from flankit.inference.prompting import PromptTemplate, default_registry

AGGREGATES = ("mean", "vote", "max")
NO_ANSWER = ("", "unanswerable", "no answer", "none", "n/a", "unknown")


def as_template(template: str | PromptTemplate) -> PromptTemplate:
    """A `PromptTemplate`: inline text when it contains '{', else a default-registry name."""
    if isinstance(template, PromptTemplate):
        return template
    if "{" in template:
        return PromptTemplate("inline", 1, template)
    return default_registry().get(template)


def _budget(engine, max_tokens: int | None) -> int:
    return int(max_tokens or getattr(engine, "max_input_tokens", 512))


def _token_spans(tokenizer, text: str) -> tuple[list[int], Callable[[int, int], str]]:
    """Token ids of `text` (no special tokens) and a function (start, end) -> exact text slice."""
    if getattr(tokenizer, "is_fast", False):
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        return list(enc["input_ids"]), lambda a, b: text[offsets[a][0] : offsets[b - 1][1]]
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return ids, lambda a, b: tokenizer.decode(ids[a:b], skip_special_tokens=True)


def split_windows(
    engine,
    text: str,
    *,
    max_tokens: int | None = None,
    overlap: int = 64,
    template: str | PromptTemplate = "{text}",
    **variables: object,
) -> list[str]:
    """Cut `text` into overlapping windows that fit the budget inside `template`.

    Args:
        engine: object with `tokenizer` and `count_tokens` (the Engine API).
        text: the long input.
        max_tokens: budget of a whole rendered prompt, EOS included (default:
            `engine.max_input_tokens`, else 512).
        overlap: tokens shared by consecutive windows (context for items cut at a border).
        template: prompt wrapped around each window; its `{text}` field receives the window.
        **variables: other template fields (e.g. question=...).

    Returns:
        the window texts (one element when the text already fits).
    """
    if not isinstance(text, str) or not text.strip():
        raise DataError("long input is empty; pass the document text")
    tmpl = as_template(template)
    if "text" not in tmpl.fields:
        raise ConfigError(
            f"prompt {tmpl.key} has no {{text}} field to receive each window: {tmpl.template!r}"
        )
    budget = _budget(engine, max_tokens)
    if engine.count_tokens(tmpl.render(**variables, text=text)) <= budget:
        return [text]
    room = budget - engine.count_tokens(tmpl.render(**variables, text=""))
    if room <= overlap:
        raise ConfigError(
            f"a window has room for {room} text tokens (budget {budget} minus the prompt template), "
            f"not more than overlap={overlap}; raise max_tokens or lower overlap"
        )
    ids, piece = _token_spans(engine.tokenizer, text)
    windows, start = [], 0
    while start < len(ids):
        end = min(start + room, len(ids))
        # Token boundaries may merge differently inside the template; shrink until it fits.
        while (
            end > start + overlap + 1
            and engine.count_tokens(tmpl.render(**variables, text=piece(start, end))) > budget
        ):
            end -= 1
        windows.append(piece(start, end))
        if end == len(ids):
            break
        start = end - overlap
    return windows


def _windows_or_truncated(engine, text, max_tokens, overlap, template, truncate, variables) -> list[str]:
    windows = split_windows(
        engine, text, max_tokens=max_tokens, overlap=overlap, template=template, **variables
    )
    if truncate and len(windows) > 1:
        total = len(_token_spans(engine.tokenizer, text)[0])
        kept = len(_token_spans(engine.tokenizer, windows[0])[0])
        warnings.warn(
            f"truncate=True: kept the first {kept} of {total} input tokens, cut {total - kept} "
            f"(use truncate=False to read the whole input in {len(windows)} windows)",
            stacklevel=3,
        )
        return windows[:1]
    return windows


@dataclass
class LongChoice:
    """Aggregated classification of a long input."""

    choice: str
    probs: dict[str, float]
    votes: dict[str, int]
    windows: list = field(default_factory=list)  # per-window Choice objects from engine.classify

    @property
    def num_windows(self) -> int:
        return len(self.windows)


def classify_long(
    engine,
    text: str,
    options: list[str],
    *,
    template: str | PromptTemplate = "{text}",
    max_tokens: int | None = None,
    overlap: int = 64,
    aggregate: str = "mean",
    truncate: bool = False,
    **variables: object,
) -> LongChoice:
    """Classify a long input by classifying its windows and aggregating.

    Args:
        engine: object with `classify`, `tokenizer`, `count_tokens`.
        text: the long input; options: answer strings.
        template, max_tokens, overlap, **variables: as in `split_windows`.
        aggregate: "mean" (average option probabilities over windows), "vote" (majority of
            window choices, ties broken by mean probability) or "max" (the option of the single
            most confident window).
        truncate: classify only the first window, warning how many tokens were cut.
    """
    if aggregate not in AGGREGATES:
        raise ConfigError(f"aggregate must be one of {', '.join(AGGREGATES)}, got {aggregate!r}")
    tmpl = as_template(template)
    windows = _windows_or_truncated(engine, text, max_tokens, overlap, tmpl, truncate, variables)
    choices = engine.classify([tmpl.render(**variables, text=w) for w in windows], list(options))
    mean = {o: sum(c.probs[o] for c in choices) / len(choices) for o in options}
    votes = dict(Counter(c.choice for c in choices))
    if aggregate == "mean":
        best = max(options, key=lambda o: mean[o])
    elif aggregate == "vote":
        best = max(options, key=lambda o: (votes.get(o, 0), mean[o]))
    else:
        best = max(choices, key=lambda c: c.probs[c.choice]).choice
    return LongChoice(best, mean, votes, choices)


@dataclass
class LongAnswer:
    """Aggregated extraction from a long input."""

    answer: str | None
    votes: dict[str, int]
    window_answers: list[str]
    scores: dict[str, float] = field(default_factory=dict)  # best window log-likelihood per candidate


def extract_long(
    engine,
    text: str,
    template: str | PromptTemplate = "answer_question",
    *,
    max_tokens: int | None = None,
    overlap: int = 64,
    aggregate: str = "vote",
    config=None,
    no_answer: tuple[str, ...] = NO_ANSWER,
    truncate: bool = False,
    text_field: str = "passage",
    **variables: object,
) -> LongAnswer:
    """Answer a question about a long input: generate per window, then aggregate.

    Args:
        engine: object with `generate`, `classify`, `tokenizer`, `count_tokens`.
        text: the long input.
        template: prompt with a field for the window (`text_field`) and any others, given as
            **variables (the default registry prompt "answer_question" takes passage, question).
        aggregate: "vote" (most frequent answer; ties go to the earliest window) or
            "confidence" (each candidate scored against every window with `engine.classify`;
            the candidate with the highest log-likelihood in any window wins).
        config: GenerationConfig for the per-window answers.
        no_answer: answers (lower-cased) that mean "not in this window" and never win.
        truncate: read only the first window, warning how many tokens were cut.
    """
    if aggregate not in ("vote", "confidence"):
        raise ConfigError(f"aggregate must be 'vote' or 'confidence', got {aggregate!r}")
    tmpl = as_template(template)
    # The window goes into `text_field`; render through a {text} alias so split_windows can size it.
    sized = PromptTemplate(
        tmpl.name,
        tmpl.version,
        tmpl.template.replace("{" + text_field + "}", "{text}"),
        defaults=tmpl.defaults,
    )
    windows = _windows_or_truncated(engine, text, max_tokens, overlap, sized, truncate, variables)
    prompts = [sized.render(**variables, text=w) for w in windows]
    found = [str(g).strip() for g in engine.generate(prompts, config)]
    candidates = [a for a in found if a.lower() not in no_answer]
    winner, votes = majority_vote(candidates)
    scores: dict[str, float] = {}
    if aggregate == "confidence" and len(votes) > 1:
        options = list(votes)
        for choice in engine.classify(prompts, options):
            for o in options:
                scores[o] = max(scores.get(o, float("-inf")), choice.scores[o])
        winner = max(options, key=lambda o: scores[o])
    return LongAnswer(winner, votes, found, scores)


@dataclass
class LongSummary:
    """A hierarchical summary: final text, rounds run, and how many chunks each round had."""

    text: str
    rounds: int
    chunks_per_round: list[int]


def summarize_long(
    engine,
    text: str,
    *,
    template: str | PromptTemplate = "summarize",
    max_tokens: int | None = None,
    overlap: int = 0,
    config=None,
    max_rounds: int = 4,
    joiner: str = "\n",
    **variables: object,
) -> LongSummary:
    """Summarize a text of any length by map-reduce.

    Each round summarizes every window and joins the summaries; rounds repeat until the
    joined text fits the budget, and a last call summarizes it. A short text takes one call.

    Args:
        engine: object with `generate`, `tokenizer`, `count_tokens`.
        template: summarization prompt with a `{text}` field (default: registry "summarize").
        max_tokens, overlap, **variables: as in `split_windows`.
        config: GenerationConfig for every summary (its max_new_tokens bounds each chunk summary).
        max_rounds: give up (InputTooLongError) after this many map rounds.
        joiner: text placed between chunk summaries.

    Raises:
        ModelError: a round's summaries are not shorter than its input (they would never fit).
    """
    tmpl = as_template(template)
    budget = _budget(engine, max_tokens)
    rounds: list[int] = []
    current = text
    while (
        len(
            windows := split_windows(
                engine, current, max_tokens=budget, overlap=overlap, template=tmpl, **variables
            )
        )
        > 1
    ):
        if len(rounds) == max_rounds:
            raise InputTooLongError(
                f"still {engine.count_tokens(current)} tokens after {max_rounds} summary rounds; "
                "raise max_rounds or lower config.max_new_tokens"
            )
        summaries = engine.generate([tmpl.render(**variables, text=w) for w in windows], config)
        joined = joiner.join(str(s).strip() for s in summaries)
        if not joined.strip():
            raise ModelError(
                f"round {len(rounds) + 1}: the model returned only empty summaries; set config.min_new_tokens"
            )
        if engine.count_tokens(joined) >= engine.count_tokens(current):
            raise ModelError(
                f"round {len(rounds) + 1}: {len(windows)} chunk summaries are not shorter than their input; "
                "lower config.max_new_tokens so summaries shrink the text"
            )
        rounds.append(len(windows))
        current = joined
    final = engine.generate([tmpl.render(**variables, text=current)], config)[0]
    return LongSummary(str(final).strip(), len(rounds) + 1, rounds + [1])
