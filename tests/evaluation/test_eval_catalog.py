"""The harness on the data catalog's tasks: gold echo, majority rate, held-out protocols, files."""

from __future__ import annotations

from collections import Counter

import pytest

from flankit.data.tasks import get_task, list_tasks
from flankit.data.templates import templates_for
from flankit.errors import DataError, UnknownNameError
from flankit.evaluation.catalog import mixture_tasks
from flankit.evaluation.harness import EvalConfig, build_cells, evaluate
from flankit.evaluation.metrics import metrics

BUILTIN = [t.name for t in list_tasks(include_online=False)]


class ConstantLabel:
    """Always picks `label` (shown as its marker when the options are lettered); generates it too."""

    def __init__(self, label: str, labels: list[str]):
        self.label, self.at = label, labels.index(label)

    def generate(self, prompts, config=None, **kw):
        return [self.label for _ in prompts]

    def classify(self, prompts, options, normalize="mean", **kw):
        return [type("C", (), {"choice": opts[self.at]})() for opts in options]


@pytest.mark.parametrize("task", BUILTIN)
def test_gold_echo_scores_100_on_every_builtin_task(task, oracle):
    config = EvalConfig(tasks=[task], shots=[0, 2], cot=True, limit=8, n_boot=10)
    grid = build_cells(config)
    results = evaluate(oracle(grid[0]), config, grid=grid)
    assert len(results["cells"]) >= 20  # ten zero-shot templates x two shot counts (+ CoT)
    for cell in results["cells"]:
        for name, score in cell["scores"].items():
            assert score == pytest.approx(metrics.get(name).scale), (cell["template"], cell["shots"], name)


@pytest.mark.parametrize("task", ["sentiment", "topic", "nli"])
def test_constant_label_gets_the_majority_rate(task):
    spec = get_task(task)
    config = EvalConfig(tasks=[task], templates="heldout", limit=60, n_boot=10)
    cells, _ = build_cells(config)
    answers = Counter(it["answer"] for it in cells[0].items)
    label, count = answers.most_common(1)[0]
    results = evaluate(ConstantLabel(label, spec.options), config, grid=(cells, []))
    assert {c["mode"] for c in results["cells"]} == {"classify"}
    for cell, raw in zip(results["cells"], cells, strict=True):
        expected = sum(it["answer"] == label for it in raw.items) / len(raw.items)
        assert cell["scores"]["accuracy"] == pytest.approx(expected)
    assert results["cells"][0]["scores"]["accuracy"] == pytest.approx(count / sum(answers.values()))


def test_template_selection_uses_heldout_flags():
    seen, _ = build_cells(EvalConfig(tasks=["sentiment"], templates="seen", limit=2))
    held, _ = build_cells(EvalConfig(tasks=["sentiment"], templates="heldout", limit=2))
    assert seen and held and not {c.template for c in seen} & {c.template for c in held}
    assert all(c.heldout for c in held) and not any(c.heldout for c in seen)


def test_leave_one_cluster_out_picks_the_cluster_tasks():
    from flankit.data.tasks import list_tasks

    cells, _ = build_cells(EvalConfig(heldout_cluster="nli", limit=2))
    offline_nli = {t.name for t in list_tasks(include_online=False) if t.cluster == "nli"}
    # other tests may register local-file NLI tasks; the builtin one must be there, nothing else
    assert {c.spec.name for c in cells} == offline_nli
    assert "nli" in offline_nli and not {
        t.name for t in list_tasks(include_online=False) if t.cluster != "nli"
    } & {c.spec.name for c in cells}
    assert mixture_tasks("builtin") and set(mixture_tasks("builtin")) <= set(BUILTIN)


def test_unknown_catalog_task_suggests():
    with pytest.raises(UnknownNameError, match="Did you mean 'sentiment'"):
        build_cells(EvalConfig(tasks=["sentimnt"]))


def test_task_on_a_local_file_in_its_format(external, oracle, constant):
    sst2 = external / "sst2" / "stsa.binary.dev"
    config = EvalConfig(tasks=["sst2"], data=str(sst2), shots=[0, 3], n_boot=10)
    cells, skipped = build_cells(config)
    n_zero_shot = sum(t.kind == "zero_shot" for t in templates_for("sentiment"))
    assert len(cells) == len(skipped) == n_zero_shot  # few-shot exemplars need the task's train split
    assert len(cells[0].items) == 872
    gold = evaluate(oracle(cells), config, grid=(cells, skipped))
    assert all(c["scores"]["accuracy"] == 1.0 for c in gold["cells"])
    positives = sum(line.startswith("1 ") for line in sst2.read_text().splitlines()) / 872
    const = evaluate(constant("positive"), config, grid=(cells, skipped))
    assert const["cells"][0]["scores"]["accuracy"] == pytest.approx(positives)


def test_local_file_in_the_wrong_format(external):
    with pytest.raises(DataError, match="Expected a `LABEL text` file with the fields of task 'rte'"):
        build_cells(EvalConfig(tasks=["rte"], data=str(external / "sst2" / "stsa.binary.dev")))
    with pytest.raises(DataError, match="not_entailment"):
        build_cells(EvalConfig(tasks=["rte"], data=str(external / "rte" / "val.jsonl")))
