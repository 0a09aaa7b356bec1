"""benchmarks/subcases.py: sub-cases read off the generators' output, and their accuracies."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from benchmark_scripts import load_benchmark

subcases = load_benchmark("subcases")


@dataclass
class Picked:
    choice: str


class Oracle:
    """Picks the gold option of every item it was built from, or (wrong=True) another option."""

    def __init__(self, task: str, limit: int, wrong: bool = False):
        from flankit.data.evalsets import eval_examples
        from flankit.data.templates import templates_for

        self.gold = {}
        for tpl in templates_for(task):
            if tpl.kind == "zero_shot" and not tpl.heldout:
                self.gold.update(
                    {i["inputs"]: i["targets"] for i in eval_examples(task, tpl.id, limit=limit)}
                )
        self.wrong = wrong

    def classify(self, prompts, options):
        out = []
        for p, opts in zip(prompts, options, strict=True):
            gold = self.gold[p]
            out.append(Picked(next(o for o in opts if o != gold) if self.wrong else gold))
        return out


def test_paraphrase_cases_follow_the_generator():
    from flankit.data.tasks import get_task

    exs = list(get_task("paraphrase").examples("test", seed=3, limit=600))
    cases = [subcases.paraphrase_case(e) for e in exs]
    counts = Counter(cases)
    assert set(counts) == {"yes", "no: opposite verb", "no: other person", "no: other object"}
    assert all(n >= 40 for n in counts.values()), counts
    for ex, case in zip(exs, cases, strict=True):
        assert (case == "yes") == (ex["label"] == "yes")
        same_person = ex["sentence1"].split()[0] in ex["sentence2"]
        assert same_person == (case != "no: other person") or case == "no: opposite verb"


def test_boolean_cases_name_literals_value_and_negation():
    assert subcases.boolean_case({"expression": "not ( True or False ) and True", "answer": "False"}) == (
        "3 literals, False, with not"
    )
    assert (
        subcases.boolean_case({"expression": "True and False", "answer": "False"})
        == "2 literals, False, no not"
    )


@pytest.mark.parametrize("task", ["paraphrase", "boolean_logic"])
def test_accuracy_per_case_counts_every_seen_template_item(task):
    from flankit.data.templates import templates_for

    limit = 12
    seen = sum(t.kind == "zero_shot" and not t.heldout for t in templates_for(task))
    right = subcases.subcase_accuracy(Oracle(task, limit), task, limit)
    wrong = subcases.subcase_accuracy(Oracle(task, limit, wrong=True), task, limit)
    assert right["all"]["n"] == seen * limit
    assert sum(r["n"] for k, r in right.items() if k != "all") == seen * limit
    assert all(r["accuracy"] == 1.0 for r in right.values())
    assert all(r["accuracy"] == 0.0 for r in wrong.values())
    assert "| paraphrase |" in subcases.markdown({"paraphrase": right}) or task != "paraphrase"
