"""The harness on real BBH and GSM8K files with fake models (gold echo, constant answer)."""

from __future__ import annotations

from collections import Counter

import pytest

from flankit.errors import ConfigError, DataError, UnknownNameError
from flankit.evaluation.harness import EvalConfig, build_cells, evaluate


def _run(model_factory, config):
    cells, _ = build_cells(config)
    return evaluate(model_factory(cells), config, model_name="fake")


def test_gold_echo_scores_100_on_all_bbh_and_gsm8k(external, oracle):
    config = EvalConfig(tasks=["bbh"], data=str(external), n_boot=50)
    results = _run(oracle, config)
    assert len(results["cells"]) == 27
    assert sum(c["n"] for c in results["cells"]) == 6511
    assert all(c["scores"]["strict_match"] == 1.0 for c in results["cells"])
    assert {c["mode"] for c in results["cells"]} == {"classify", "generate"}
    gsm = _run(oracle, EvalConfig(tasks=["gsm8k"], data=str(external), n_boot=50))
    assert gsm["cells"][0]["n"] == 1319 and gsm["cells"][0]["scores"]["accuracy"] == 1.0
    assert gsm["cells"][0]["stderr"]["accuracy"] == 0.0


def test_gold_echo_through_cot_and_few_shot_on_gsm8k(external, oracle):
    config = EvalConfig(tasks=["gsm8k"], data=str(external), shots=[0, 3], cot=True, limit=20, n_boot=20)
    results = _run(oracle, config)
    assert {(c["shots"], c["cot"]) for c in results["cells"]} == {
        (0, False),
        (3, False),
        (0, True),
        (3, True),
    }
    assert all(c["scores"]["accuracy"] == 1.0 for c in results["cells"])
    assert results["shot_gap"]["per_task"] == {"gsm8k": 0.0}


@pytest.mark.parametrize(("task", "answer"), [("date_understanding", "(B)"), ("sports_understanding", "no")])
def test_constant_model_gets_the_majority_rate(external, constant, task, answer):
    import json

    targets = [e["target"] for e in json.loads((external / "bbh" / f"{task}.json").read_text())["examples"]]
    majority, count = Counter(targets).most_common(1)[0]
    assert majority == answer
    results = evaluate(constant(answer), EvalConfig(tasks=[f"bbh:{task}"], data=str(external), n_boot=200))
    cell = results["cells"][0]
    assert cell["scores"]["strict_match"] == pytest.approx(count / len(targets))
    p = count / len(targets)
    assert cell["stderr"]["strict_match"] == pytest.approx((p * (1 - p) / len(targets)) ** 0.5, rel=0.2)


def test_bbh_few_shot_is_skipped_without_train_split(external):
    cells, skipped = build_cells(
        EvalConfig(tasks=["bbh:navigate"], data=str(external), shots=[0, 3], limit=4)
    )
    assert [(c.shots, len(c.items)) for c in cells] == [(0, 4)]
    assert skipped == [
        {
            "task": "bbh:navigate",
            "template": "original",
            "shots": 3,
            "cot": False,
            "reason": "not supported by this task/template",
        }
    ]


def test_leave_one_cluster_out(external):
    config = EvalConfig(tasks=["bbh:navigate", "gsm8k"], data=str(external), heldout_cluster="math", limit=3)
    cells, _ = build_cells(config)
    assert [c.spec.name for c in cells] == ["gsm8k"]
    with pytest.raises(DataError, match="No task in cluster 'vision'"):
        build_cells(EvalConfig(tasks=["gsm8k"], data=str(external), heldout_cluster="vision"))


def test_bad_grid_input(external, tmp_path):
    with pytest.raises(UnknownNameError, match="Did you mean 'navigate'"):
        build_cells(EvalConfig(tasks=["bbh:navigat"], data=str(external)))
    with pytest.raises(ConfigError, match="seen, heldout, all"):
        build_cells(EvalConfig(tasks=["gsm8k"], data=str(external), templates="unseen"))
    with pytest.raises(ConfigError, match="non-negative"):
        build_cells(EvalConfig(tasks=["gsm8k"], data=str(external), shots=[-1]))
    with pytest.raises(DataError, match="BIG-Bench Hard"):
        build_cells(EvalConfig(tasks=["bbh"], data=str(tmp_path / "missing")))
    wrong = tmp_path / "gsm8k.jsonl"
    wrong.write_text('{"input": "x", "target": "y"}\n')
    with pytest.raises(DataError, match="GSM8K JSONL"):
        build_cells(EvalConfig(tasks=["gsm8k"], data=str(wrong)))
