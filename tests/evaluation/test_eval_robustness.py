"""Robustness statistics: CPS worked example, gaps, bad input."""

from __future__ import annotations

import math

import pytest

from flankit.errors import DataError
from flankit.evaluation.robustness import shot_gap, summarize, template_gap


def test_cps_worked_example():
    # Three templates: MaxP = 0.8, AvgP = 0.6, so CPS = 0.8 * (1 - (0.8 - 0.6)) = 0.64.
    stats = summarize({"t1": 0.8, "t2": 0.6, "t3": 0.4})
    assert stats["maxp"] == pytest.approx(0.8)
    assert stats["avgp"] == pytest.approx(0.6)
    assert stats["cps"] == pytest.approx(0.64)
    assert stats["spread"] == pytest.approx(0.4)
    assert stats["min"] == pytest.approx(0.4)
    assert stats["std"] == pytest.approx(math.sqrt(0.08 / 3))
    assert set(stats) >= {"mean", "std", "min", "max", "spread", "maxp", "avgp", "cps"}


def test_cps_equals_score_when_templates_agree_and_on_100_scale():
    assert summarize({"a": 0.7, "b": 0.7})["cps"] == pytest.approx(0.7)
    assert summarize({"a": 80.0, "b": 60.0, "c": 40.0}, scale=100.0)["cps"] == pytest.approx(64.0)


def test_gaps():
    zero = {"sst2": {"a": 0.5, "b": 0.7}, "rte": {"a": 0.5}}
    few = {"sst2": {"a": 0.8, "b": 0.8}, "trec": {"a": 0.9}}
    g = shot_gap(zero, few)
    assert g["per_task"] == {"sst2": pytest.approx(0.2)}
    assert g["mean"] == pytest.approx(0.2)
    assert template_gap({"x": {"a": 0.9}}, {"x": {"h": 0.6}})["mean"] == pytest.approx(0.3)
    assert template_gap({"x": {"a": 0.9}}, {"y": {"h": 0.6}})["mean"] is None


def test_summarize_empty_is_clear():
    with pytest.raises(DataError, match="at least one template"):
        summarize({})
