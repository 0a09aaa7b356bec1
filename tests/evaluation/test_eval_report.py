"""Reports: results.json round trip, report.md tables, PNG plots, compare."""

from __future__ import annotations

import json

import pytest

from flankit.errors import DataError
from flankit.evaluation.harness import EvalConfig, evaluate
from flankit.evaluation.report import compare, load_results, markdown, write_report


@pytest.fixture
def two_runs(external, oracle, constant, tmp_path):
    from flankit.evaluation.harness import build_cells

    config = EvalConfig(
        tasks=["bbh:navigate", "bbh:sports_understanding"], data=str(external), limit=40, n_boot=100
    )
    cells, _ = build_cells(config)
    gold = evaluate(oracle(cells), config, model_name="gold")
    const = evaluate(constant("No"), config, model_name="const")
    return write_report(gold, tmp_path / "a"), write_report(const, tmp_path / "b", plots=False), gold


def test_results_json_and_markdown(two_runs):
    paths, _, gold = two_runs
    saved = json.loads(paths["results"].read_text())
    assert saved["model"] == "gold" and saved["seed"] == 0
    assert saved["tasks"]["bbh:navigate"]["version"] == 1
    assert saved["config"]["limit"] == 40
    assert saved["cells"][0]["scores"]["strict_match"] == 1.0
    text = paths["report"].read_text()
    assert "| bbh:navigate | 1 | original |" in text and "CPS" in text
    assert markdown(gold) == text


def test_plots_are_pngs(two_runs):
    paths, _, _ = two_runs
    for key in ("templates_bbh_navigate", "templates_bbh_sports_understanding", "robustness"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_gives_differences_with_stderr(two_runs):
    a, b, _ = two_runs
    rows = {r["task"]: r for r in compare(a["results"].parent, b["results"].parent)}
    nav = rows["bbh:navigate"]
    const = load_results(b["results"].parent)
    expected_b = next(c for c in const["cells"] if c["task"] == "bbh:navigate")["scores"]["strict_match"]
    assert nav["a"] == 1.0 and nav["b"] == pytest.approx(expected_b)
    assert nav["diff"] == pytest.approx(expected_b - 1.0)
    assert nav["diff_stderr"] == pytest.approx((nav["a_stderr"] ** 2 + nav["b_stderr"] ** 2) ** 0.5)
    assert rows["bbh:sports_understanding"]["b"] == 0.0  # "No" is not a sports_understanding answer


def test_compare_bad_input(tmp_path, two_runs):
    with pytest.raises(DataError, match="flankit eval --out"):
        compare(tmp_path / "nothing", tmp_path / "nothing")
    bad = tmp_path / "results.json"
    bad.write_text("[1, 2]")
    with pytest.raises(DataError, match="'cells' list"):
        load_results(bad)
    a, _, gold = two_runs
    with pytest.raises(DataError, match="share no"):
        compare(a["results"], {**gold, "cells": []})
