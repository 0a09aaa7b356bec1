"""Metrics and answer-extraction filters as small named functions in registries.

`compute(name, predictions, references)` scores a list of predictions against references,
where each reference is a string or a list of acceptable strings (the best match counts).
Scales follow the papers: sacrebleu's 0-100 for `bleu` and `chrf`, 0-1 for the rest.

- `accuracy`: the prediction equals a reference after trimming whitespace.
- `strict_match`: equality after collapsing whitespace (BIG-Bench Hard style exact match;
  unlike `exact_match` it keeps punctuation, which is the whole answer in e.g. Dyck tasks).
- `exact_match`, `f1`: the SQuAD v1.1 definitions (lowercase, drop punctuation and articles,
  collapse whitespace; token-overlap F1), max over references.
- `rouge1`, `rouge2`, `rougeL`: rouge-score F-measure with Porter stemming, averaged over
  items; several references use rouge-score's own `score_multi` (best reference).
- `bleu`, `chrf`: sacrebleu corpus scores; a variable number of references per item is
  padded with None, which sacrebleu ignores.

Filters turn raw generations into answers before scoring (`apply_filters`): `strip`,
`answer_is` ("So the answer is X."), `gsm8k` (`#### N`, else the last number),
`last_number`, `first_option` (the earliest option the text mentions), and `regex:PATTERN`
(first group of the first match). `bootstrap_stderr` gives seeded bootstrap standard errors.

References: Rajpurkar et al. 2016 (SQuAD v1.1 evaluation script); Lin 2004 (ROUGE);
Post 2018 (sacrebleu); Cobbe et al. 2021 (GSM8K); Suzgun et al. 2022 (BBH).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from flankit.errors import DataError, UnknownNameError
from flankit.registry import Registry

Reference = str | Sequence[str]
ItemFn = Callable[[str, list[str]], float]
CorpusFn = Callable[[list[str], list[list[str]]], float]


@dataclass(frozen=True)
class Metric:
    """A named metric: a corpus scorer, and a per-item scorer when the score is a mean of items."""

    name: str
    corpus: CorpusFn
    item: ItemFn | None = None
    scale: float = 1.0


metrics: Registry[Metric] = Registry("metric")
filters: Registry[Callable[[str, list[str] | None], str]] = Registry("filter")


def _mean_of(item: ItemFn) -> CorpusFn:
    return lambda preds, refs: float(np.mean([item(p, r) for p, r in zip(preds, refs, strict=True)]))


def _add_item_metric(name: str, item: ItemFn) -> None:
    metrics.add(name, Metric(name, _mean_of(item), item))


# ---- SQuAD v1.1 ------------------------------------------------------------------------
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalization: lowercase, drop punctuation and articles, collapse spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _token_f1(prediction: str, reference: str) -> float:
    pred, gold = normalize_answer(prediction).split(), normalize_answer(reference).split()
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


_add_item_metric("accuracy", lambda p, refs: float(any(p.strip() == r.strip() for r in refs)))
_add_item_metric("strict_match", lambda p, refs: float(any(p.split() == r.split() for r in refs)))
_add_item_metric(
    "exact_match", lambda p, refs: float(any(normalize_answer(p) == normalize_answer(r) for r in refs))
)
_add_item_metric("f1", lambda p, refs: max(_token_f1(p, r) for r in refs))


# ---- ROUGE (rouge-score) ---------------------------------------------------------------
@cache
def _rouge_scorer(kind: str):
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer([kind], use_stemmer=True)


def _rouge_item(kind: str) -> ItemFn:
    def item(prediction: str, refs: list[str]) -> float:
        scorer = _rouge_scorer(kind)
        scores = scorer.score(refs[0], prediction) if len(refs) == 1 else scorer.score_multi(refs, prediction)
        return scores[kind].fmeasure

    return item


for _kind in ("rouge1", "rouge2", "rougeL"):
    _add_item_metric(_kind, _rouge_item(_kind))


# ---- BLEU / chrF (sacrebleu corpus scores) ---------------------------------------------
def _ref_streams(refs: list[list[str]]) -> list[list[str | None]]:
    width = max(len(r) for r in refs)
    return [[r[i] if i < len(r) else None for r in refs] for i in range(width)]


def _bleu(preds: list[str], refs: list[list[str]]) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_bleu(preds, _ref_streams(refs)).score)


def _chrf(preds: list[str], refs: list[list[str]]) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_chrf(preds, _ref_streams(refs)).score)


metrics.add("bleu", Metric("bleu", _bleu, None, 100.0))
metrics.add("chrf", Metric("chrf", _chrf, None, 100.0))


# ---- entry points ----------------------------------------------------------------------
def _as_lists(predictions: Sequence[str], references: Sequence[Reference]) -> list[list[str]]:
    if len(predictions) != len(references):
        raise DataError(
            f"Got {len(predictions)} predictions but {len(references)} references; pass one reference "
            "(a string or a list of acceptable strings) per prediction."
        )
    if not predictions:
        raise DataError("Nothing to score: predictions and references are empty. Check the data and --limit.")
    refs = [[r] if isinstance(r, str) else [str(x) for x in r] for r in references]
    if any(not r for r in refs):
        raise DataError("A reference list is empty; give at least one acceptable answer per item.")
    return refs


def compute(name: str, predictions: Sequence[str], references: Sequence[Reference]) -> float:
    """Score predictions with metric `name` (0-100 for bleu/chrf, else 0-1).

    Raises:
        UnknownNameError: `name` is not a registered metric (with a suggestion).
        DataError: lengths differ or there is nothing to score.
    """
    metric = metrics.get(name)
    return metric.corpus([str(p) for p in predictions], _as_lists(predictions, references))


def item_scores(name: str, predictions: Sequence[str], references: Sequence[Reference]) -> list[float] | None:
    """Per-item scores when metric `name` is a mean over items, else None (corpus metrics)."""
    metric = metrics.get(name)
    if metric.item is None:
        return None
    refs = _as_lists(predictions, references)
    return [metric.item(str(p), r) for p, r in zip(predictions, refs, strict=True)]


def bootstrap_stderr(
    name: str,
    predictions: Sequence[str],
    references: Sequence[Reference],
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> float:
    """Bootstrap standard error of `compute(name, ...)`: the std of scores over resampled items.

    Item-mean metrics resample the cached item scores (cheap); corpus metrics (BLEU, chrF)
    are recomputed on each resample, so they use at most 200 resamples.
    """
    rng = np.random.default_rng(seed)
    n = len(predictions)
    scores = item_scores(name, predictions, references)
    if scores is not None:
        idx = rng.integers(0, n, size=(n_boot, n))
        return float(np.asarray(scores)[idx].mean(axis=1).std(ddof=1)) if n_boot > 1 else 0.0
    preds, refs = [str(p) for p in predictions], _as_lists(predictions, references)
    corpus = metrics.get(name).corpus
    samples = []
    for _ in range(min(n_boot, 200)):
        idx = rng.integers(0, n, size=n)
        samples.append(corpus([preds[i] for i in idx], [refs[i] for i in idx]))
    return float(np.std(samples, ddof=1)) if len(samples) > 1 else 0.0


# ---- answer-extraction filters ---------------------------------------------------------
_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")
_ANSWER_IS = re.compile(r"answer is[:\s]*(.+?)(?:\.\s*$|\.\s+|\n|$)", re.IGNORECASE)


def normalize_number(text: str) -> str:
    """'1,000' -> '1000', '$5' -> '5', '18.00' -> '18'; other text is returned stripped."""
    text = text.strip().replace(",", "").replace("$", "")
    if re.fullmatch(r"-?\d+\.0*", text):
        text = text.split(".")[0]
    return text.rstrip(".")


@filters.register("strip")
def strip_filter(text: str, options: list[str] | None = None) -> str:
    """Trim surrounding whitespace."""
    return text.strip()


@filters.register("answer_is")
def answer_is_filter(text: str, options: list[str] | None = None) -> str:
    """The X of the last "... the answer is X." (CoT convention); the text itself if absent."""
    found = _ANSWER_IS.findall(text)
    return found[-1].strip() if found else text.strip()


@filters.register("last_number")
def last_number_filter(text: str, options: list[str] | None = None) -> str:
    """The last number in the text, normalized; the text itself if it has none."""
    found = _NUMBER.findall(text)
    return normalize_number(found[-1]) if found else text.strip()


@filters.register("gsm8k")
def gsm8k_filter(text: str, options: list[str] | None = None) -> str:
    """The number after GSM8K's `####` marker, else the last number in the text."""
    if "####" in text:
        tail = text.rsplit("####", 1)[1]
        found = _NUMBER.findall(tail)
        if found:
            return normalize_number(found[0])
    return last_number_filter(text)


@filters.register("first_option")
def first_option_filter(text: str, options: list[str] | None = None) -> str:
    """The option the text mentions first (case-insensitive; longest wins a tie).

    An exact match of a whole option wins outright, so "(A)" is not beaten by "A" inside it.
    """
    if not options:
        return text.strip()
    low = text.strip().lower()
    for option in options:
        if low == option.strip().lower():
            return option
    best: tuple[int, int, str] | None = None
    for option in options:
        pos = low.find(option.strip().lower())
        if pos >= 0 and (best is None or (pos, -len(option)) < best[:2]):
            best = (pos, -len(option), option)
    return best[2] if best else text.strip()


def regex_filter(pattern: str) -> Callable[[str, list[str] | None], str]:
    """A filter keeping the first group (or whole match) of the first match of `pattern`."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise UnknownNameError(f"Bad filter regex {pattern!r}: {exc}. Write it as 'regex:PATTERN'.") from None

    def apply(text: str, options: list[str] | None = None) -> str:
        match = compiled.search(text)
        if not match:
            return text.strip()
        return (match.group(1) if compiled.groups else match.group(0)).strip()

    return apply


def get_filter(spec: str) -> Callable[[str, list[str] | None], str]:
    """A filter by name, or `regex:PATTERN` for a regex filter."""
    if spec.startswith("regex:"):
        return regex_filter(spec[len("regex:") :])
    return filters.get(spec)


def apply_filters(specs: Sequence[str], text: str, options: list[str] | None = None) -> str:
    """Run filters left to right on `text` (options feed `first_option`)."""
    out = str(text)
    for spec in specs:
        out = get_filter(spec)(out, options)
    return out
