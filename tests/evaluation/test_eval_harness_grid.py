"""The grid on a hand-made spec: template selection, CoT filters, robustness and gaps."""

from __future__ import annotations

import pytest

from flankit.errors import DataError, UnknownNameError
from flankit.evaluation.harness import EvalConfig, build_cells, evaluate
from flankit.evaluation.specs import EvalSpec

ITEMS = [("2+2", "4"), ("3+3", "6"), ("1+1", "2"), ("5+4", "9")]


def _spec(kind="generation", metrics=("accuracy",)):
    def load(template, shots, cot, limit, seed):
        out = []
        for q, a in ITEMS[:limit]:
            target = f"Add them: {q} is {a}. So the answer is {a}." if cot else a
            prompt = f"[{template}|{shots}] {q}"
            out.append({"inputs": prompt, "targets": target, "answer": a, "options": ["2", "4", "6", "9"]})
        return out

    return EvalSpec(
        name="add",
        cluster="math",
        version=3,
        kind=kind,
        metrics=list(metrics),
        filters=["first_option"],
        templates={"t1": False, "t2": False, "t3": True},
        cot_templates={"t_cot": False},
        load=load,
    )


class TemplateBiased:
    """Right on template t1, right on half the items of t2, wrong on held-out t3."""

    def generate(self, prompts, config=None, **overrides):
        return [self._answer(p) for p in prompts]

    def classify(self, prompts, options, normalize="mean"):
        raise AssertionError("generation tasks must not use rank classification")

    @staticmethod
    def _answer(prompt):
        q = prompt.split("] ")[1]
        right = dict(ITEMS)[q]
        tag = prompt[1:3]
        if tag == "t1" or (tag == "t2" and q in ("2+2", "3+3")) or tag == "t_":
            return f"I think {right}. So the answer is {right}."
        return "9" if right != "9" else "2"


@pytest.mark.parametrize(
    ("templates", "expected"), [("seen", {"t1", "t2"}), ("heldout", {"t3"}), ("all", {"t1", "t2", "t3"})]
)
def test_template_selection(templates, expected):
    cells, _ = build_cells(EvalConfig(templates=templates), specs=[_spec()])
    assert {c.template for c in cells} == expected


def test_scores_robustness_and_gaps():
    results = evaluate(TemplateBiased(), EvalConfig(shots=[0, 2], cot=True, n_boot=100), specs=[_spec()])
    by = {(c["template"], c["shots"], c["cot"]): c["scores"]["accuracy"] for c in results["cells"]}
    assert by[("t1", 0, False)] == 1.0 and by[("t2", 0, False)] == 0.5 and by[("t3", 0, False)] == 0.0
    assert by[("t_cot", 0, True)] == 1.0  # answer_is runs before first_option under CoT
    rob = next(r for r in results["robustness"] if r["shots"] == 0 and not r["cot"])
    # templates t1, t2, t3 score 1, 0.5, 0: MaxP 1, AvgP 0.5, CPS = 1 * (1 - (1 - 0.5)) = 0.5
    assert (rob["n"], rob["maxp"], rob["avgp"], rob["spread"]) == (3, 1.0, 0.5, 1.0)
    assert rob["cps"] == pytest.approx(0.5)
    assert results["template_gap"]["mean"] > 0  # held-out t3 is worse than seen templates
    assert results["shot_gap"]["per_task"]["add"] == pytest.approx(0.0)
    assert results["tasks"]["add"]["version"] == 3
    assert results["skipped"] == []


def test_classification_uses_rank_classification(constant):
    results = evaluate(
        constant("4"), EvalConfig(templates="seen", limit=4, n_boot=10), specs=[_spec("classification")]
    )
    assert {c["mode"] for c in results["cells"]} == {"classify"}
    assert all(c["scores"]["accuracy"] == 0.25 for c in results["cells"])


def test_bad_spec_and_empty_grid():
    with pytest.raises(UnknownNameError, match="Did you mean 'accuracy'"):
        build_cells(EvalConfig(), specs=[_spec(metrics=("acuracy",))])
    with pytest.raises(DataError, match="Nothing to evaluate"):
        build_cells(EvalConfig(templates="heldout", cot=False), specs=[_only_seen()])


def _only_seen():
    spec = _spec()
    spec.templates = {"t1": False}
    return spec


def test_generic_jsonl_file_and_truncate_pass_through(tmp_path):
    import json

    f = tmp_path / "capitals.jsonl"
    rows = [
        {"inputs": "Capital of France?", "targets": "Paris"},
        {"inputs": "Capital of Peru?", "targets": "Lima"},
    ]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    seen = {}

    class Recorder:
        def generate(self, prompts, config=None, **kw):
            seen.update(kw)
            return ["paris.", "Quito"]

        def classify(self, prompts, options, normalize="mean", **kw):
            raise AssertionError("no options: generation")

    results = evaluate(Recorder(), EvalConfig(tasks=["jsonl"], data=str(f), truncate=True, n_boot=10))
    cell = results["cells"][0]
    assert cell["task"] == "capitals" and cell["scores"]["exact_match"] == 0.5
    assert seen == {"max_new_tokens": 64, "truncate": True}
