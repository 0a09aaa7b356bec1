"""Prompt-robustness statistics over the scores one task gets under many templates.

`summarize({template: score})` gives mean, std (population), min, max, spread (max - min),
MaxP (the best template's score), AvgP (the mean) and CPS, the Combined Performance Score of
Mizrahi et al. 2024 ("State of What Art? A Call for Multi-Prompt LLM Evaluation"):

    CPS = MaxP * (1 - (MaxP - AvgP))

which rewards a high best score but discounts it by how far the average template falls
behind. Scores must be on a 0-1 scale for CPS to mean what the paper means; metrics on a
0-100 scale (BLEU, chrF) are divided by 100 for CPS only.

`gap(a, b)` compares two sets of runs of the same tasks (zero- vs few-shot, seen vs held-out
templates): per task mean(a) - mean(b), and the mean of those differences.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from flankit.errors import DataError


def summarize(scores: Mapping[str, float], *, scale: float = 1.0) -> dict[str, float]:
    """Robustness statistics of one task's per-template scores.

    Args:
        scores: template id -> score.
        scale: the metric's full scale (1 for accuracy, 100 for BLEU); CPS is computed on
            scores divided by it and reported back on the same scale.

    Returns:
        dict with keys mean, std, min, max, spread, maxp, avgp, cps, n.

    Raises:
        DataError: no scores were given.
    """
    if not scores:
        raise DataError("No template scores to summarize; evaluate at least one template.")
    values = np.asarray(list(scores.values()), dtype=float)
    maxp, avgp = float(values.max()), float(values.mean())
    cps = (maxp / scale) * (1.0 - (maxp - avgp) / scale) * scale
    return {
        "mean": avgp,
        "std": float(values.std()),
        "min": float(values.min()),
        "max": maxp,
        "spread": float(maxp - values.min()),
        "maxp": maxp,
        "avgp": avgp,
        "cps": float(cps),
        "n": int(values.size),
    }


def gap(a: Mapping[str, Mapping[str, float]], b: Mapping[str, Mapping[str, float]]) -> dict[str, object]:
    """Per-task difference of mean scores between two conditions, on the tasks both have.

    Args:
        a: task -> {template: score} under condition A (e.g. few-shot, or seen templates).
        b: the same under condition B (e.g. zero-shot, or held-out templates).

    Returns:
        {"per_task": {task: mean(a) - mean(b)}, "mean": mean of the per-task gaps}
        ("mean" is None when the conditions share no task).
    """
    per_task = {
        task: float(np.mean(list(a[task].values())) - np.mean(list(b[task].values())))
        for task in sorted(set(a) & set(b))
        if a[task] and b[task]
    }
    return {"per_task": per_task, "mean": float(np.mean(list(per_task.values()))) if per_task else None}


def shot_gap(zero_shot: Mapping[str, Mapping[str, float]], few_shot: Mapping[str, Mapping[str, float]]):
    """Few-shot minus zero-shot mean score per task (positive: exemplars help)."""
    return gap(few_shot, zero_shot)


def template_gap(seen: Mapping[str, Mapping[str, float]], heldout: Mapping[str, Mapping[str, float]]):
    """Seen minus held-out template mean score per task (positive: unseen phrasings hurt)."""
    return gap(seen, heldout)
