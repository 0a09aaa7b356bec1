"""Where a model fails on the two builtin comparison tasks: accuracy per sub-case.

paraphrase pairs are sorted by how the generator built the second sentence (a true
paraphrase; or it changes the person, the object, or puts the opposite verb), boolean
expressions by their number of literals, their value and whether they hold a `not`. Every
seen zero-shot template is scored the way the evaluation harness scores it (answer options
shown, rank classification over them), on the same test items.

    python benchmarks/subcases.py demo_out/model [--limit 150] [--threads 2]

Prints one JSON object {task: {sub-case: {"accuracy", "n"}}} and a markdown table.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Callable

from flankit.data.builtin.words import VERBS

OPPOSITE_VERBS = tuple(opposite for _, opposite in VERBS.values())


def paraphrase_case(ex: dict) -> str:
    """yes, or what separates the second sentence from the first: name, object or opposite verb."""
    if ex["label"] == "yes":
        return "yes"
    second = f" {ex['sentence2']} "
    if any(f" {opposite} " in second for opposite in OPPOSITE_VERBS):
        return "no: opposite verb"
    if ex["sentence1"].split()[0] not in ex["sentence2"]:
        return "no: other person"
    return "no: other object"


def boolean_case(ex: dict) -> str:
    """Literals, value and whether a negation occurs, e.g. "4 literals, True, with not"."""
    e = ex["expression"]
    literals = e.count("True") + e.count("False")
    return f"{literals} literals, {ex['answer']}, {'with' if 'not' in e.split() else 'no'} not"


CASES: dict[str, Callable[[dict], str]] = {"paraphrase": paraphrase_case, "boolean_logic": boolean_case}


def subcase_accuracy(engine, task: str, limit: int, seed: int = 0) -> dict[str, dict]:
    """Sub-case -> accuracy and item count over the task's seen zero-shot templates ("all" too)."""
    from flankit.data.evalsets import eval_examples
    from flankit.data.tasks import get_task
    from flankit.data.templates import templates_for

    raws = list(get_task(task).examples("test", seed=seed, limit=limit))
    cases = [CASES[task](ex) for ex in raws]
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for tpl in templates_for(task):
        if tpl.kind != "zero_shot" or tpl.heldout:
            continue
        items = eval_examples(task, tpl.id, limit=limit, seed=seed)
        picked = engine.classify([i["inputs"] for i in items], [i["options"] for i in items])
        for case, item, choice in zip(cases, items, picked, strict=True):
            for key in (case, "all"):
                hits[key][0] += choice.choice == item["targets"]
                hits[key][1] += 1
    return {k: {"accuracy": right / n, "n": n} for k, (right, n) in sorted(hits.items())}


def markdown(result: dict) -> str:
    rows = ["| task | sub-case | accuracy | items |", "|---|---|---|---|"]
    for task, cases in result.items():
        rows += [f"| {task} | {c} | {r['accuracy']:.1%} | {r['n']} |" for c, r in cases.items()]
    return "\n".join(rows)


def main() -> None:
    import torch

    from flankit.inference.engine import Engine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="model folder (e.g. demo_out/model)")
    ap.add_argument("--limit", type=int, default=150, help="test items per template")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads")
    args = ap.parse_args()
    if args.limit < 1:
        ap.error(f"--limit must be at least 1, got {args.limit}")
    torch.set_num_threads(args.threads)
    engine = Engine.from_pretrained(args.model)
    result = {task: subcase_accuracy(engine, task, args.limit) for task in CASES}
    print(json.dumps(result, indent=2))
    print()
    print(markdown(result))


if __name__ == "__main__":
    main()
