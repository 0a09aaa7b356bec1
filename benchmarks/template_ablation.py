"""FLAN's template ablation in miniature: one instruction template per task vs the full set.

Two arms get the same budget (steps, batch, seed, model) through `flankit.demo.run_demo`:

- `full`: every zero-shot and inverse template of each builtin task, except the templates
  flagged held out in the catalog;
- `single`: exactly one zero-shot template per task (its first non-held-out one); every other
  template is held out, the flagged ones included.

Both train zero-shot only (formats zs_opt/zs_noopt, no few-shot, no CoT) with the demo mixture's
task weights (the hard comparison tasks weigh more, as in the demo), so the arms differ in
template diversity and nothing else. Both are scored on the catalog's held-out templates of
the builtin classification tasks, which neither arm ever trained on: per task the mean
accuracy over those templates, their spread (max - min) and CPS (`flankit.evaluation.
robustness`), then the mean over tasks. FLAN (Wei et al. 2021, fig. 8) reports that more
templates per task help on unseen instructions; the quality bar (issue 8) asks for a held-out
spread of `full` at most half of `single`'s and a higher held-out mean.

    python benchmarks/template_ablation.py [--steps 2240] [--seeds 0,1] [--eval-limit 400] [--threads 2]
    python benchmarks/template_ablation.py --combine seed0.txt seed1.txt   # runs saved per seed, merged

Every seed trains both arms; `full` and `single` hold the arms' statistics averaged over the
seeds, and the verdict (`flan_effect`) is taken on those averages, because a spread between two
held-out templates moves by several points from seed to seed. Prints one JSON object
{"full": {...}, "single": {...}, "budget": {...}, "ratios": {...}, "flan_effect": ...,
"per_seed": {seed: {"full", "single", ratios}}} and a markdown table. Run folders:
.bench/ablation/seed{N}/{full,single} (each a complete demo run).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / ".bench" / "ablation"
ARMS = ("full", "single")
# Steps per arm: the demo's budget before it was cut to 1,440 steps to fit 10 minutes on the
# slower 2-core machines. At 1,440 the full arm still half-knows boolean_logic and paraphrase on
# unseen wordings, and their swings alone put its spread at 0.54 of the single arm's (README).
ABLATION_STEPS = 2240
# The model and data order the verdict was measured with: the demo's recipe before its model
# became micro (2+2 layers) with fill-grouped batches to fit 10 minutes on AVX2-only CPUs.
ABLATION_RECIPE = {"size": "mini", "group_packed": False}
# Zero-shot only in both arms: few-shot and CoT prompts would add phrasings of their own.
FORMATS = {"zs_opt": 0.6, "zs_noopt": 0.4}


def single_template_plan() -> dict[str, tuple[str, list[str]]]:
    """Per builtin task: (the one zero-shot template kept, every other template id of the task)."""
    from flankit.data.tasks import builtin_tasks
    from flankit.data.templates import templates_for

    plan = {}
    for task in builtin_tasks():
        tpls = templates_for(task.name)
        keep = next(t.id for t in tpls if t.kind == "zero_shot" and not t.heldout)
        plan[task.name] = (keep, [t.id for t in tpls if t.id != keep])
    return plan


def demo_mixture() -> dict:
    """The demo mixture's YAML document (its task weights are the ablation's too)."""
    from flankit.data.tasks import CATALOG_DIR

    return yaml.safe_load((CATALOG_DIR / "mixtures" / "demo.yaml").read_text(encoding="utf-8"))


def write_mixtures(folder: Path) -> dict[str, Path]:
    """The two arms' mixture YAMLs (identical but for the held-out templates); arm -> path."""
    plan = single_template_plan()
    # Template ids are per template group, and groups are shared by tasks: a template kept by one
    # task must not be held out because another task of the group keeps a different one.
    kept = {keep for keep, _ in plan.values()}
    held = sorted({tid for _, others in plan.values() for tid in others} - kept)
    demo = demo_mixture()
    base = {
        "tasks": "builtin",
        "cap": demo["cap"],
        "temperature": demo["temperature"],
        "weights": demo["weights"],
        "formats": FORMATS,
        "few_shot": {"max_shots": 0},
    }
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for arm, heldout in (("full", True), ("single", held)):
        paths[arm] = folder / f"ablation_{arm}.yaml"
        doc = {"name": f"ablation_{arm}", **base, "heldout": {"templates": heldout}}
        paths[arm].write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return paths


def trained_templates(mixture: str | Path) -> dict[str, set[str]]:
    """Task -> the template ids a mixture trains on (from the loaded mixture, not the YAML)."""
    from flankit.data.mixture import load_mixture

    out: dict[str, set[str]] = {}
    for entry in load_mixture(mixture).entries:
        out.setdefault(entry.task.name, set()).update(t.id for tpls in entry.templates.values() for t in tpls)
    return out


def template_scores(cells: list[dict], keep) -> dict[str, dict[str, float]]:
    """Task -> {template: primary score} of the zero-shot, non-CoT cells that `keep(cell)` accepts."""
    out: dict[str, dict[str, float]] = {}
    for c in cells:
        if c["shots"] == 0 and not c["cot"] and keep(c):
            out.setdefault(c["task"], {})[c["template"]] = c["scores"][c["metric"]]
    return out


def arm_stats(run_dir: Path, doc: dict, trained: dict[str, set[str]]) -> dict:
    """Held-out-template mean, spread and CPS (per task and averaged) of one arm's demo run."""
    from flankit.evaluation.robustness import summarize

    cells = json.loads((run_dir / "eval" / "results.json").read_text(encoding="utf-8"))["cells"]
    held = template_scores(cells, lambda c: c["heldout"])
    seen = template_scores(cells, lambda c: c["template"] in trained.get(c["task"], ()))
    per_task = {task: summarize(scores) for task, scores in sorted(held.items())}

    def mean(key: str) -> float:
        return statistics.fmean(r[key] for r in per_task.values())

    return {
        "heldout_mean": mean("mean"),
        "heldout_spread": mean("spread"),
        "cps": mean("cps"),
        "trained_template_mean": statistics.fmean(statistics.fmean(s.values()) for s in seen.values()),
        "templates_trained_per_task": {t: len(ids) for t, ids in sorted(trained.items())},
        "per_task": {t: {k: r[k] for k in ("mean", "spread", "cps", "n")} for t, r in per_task.items()},
        "steps": doc["train"]["steps"],
        "final_loss": doc["train"]["final_loss"],
        "timing_s": doc["timing_s"],
    }


def markdown(result: dict) -> str:
    """The arms' averages over seeds, then each seed's arms with its spread ratio."""
    rows = [
        "| seed | arm | held-out mean acc | held-out spread (pts) | CPS | trained-template acc | spread ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    runs = [("mean", result, result["ratios"]["spread_full_over_single"])]
    runs += [(str(seed), r, r["spread_full_over_single"]) for seed, r in result.get("per_seed", {}).items()]
    for label, arms, ratio in runs:
        for arm in ARMS:
            r = arms[arm]
            last = "-" if arm != "full" or ratio is None else f"{ratio:.2f}"
            rows.append(
                f"| {label} | {arm} | {100 * r['heldout_mean']:.1f}% | {100 * r['heldout_spread']:.1f} "
                f"| {r['cps']:.3f} | {100 * r['trained_template_mean']:.1f}% | {last} |"
            )
    return "\n".join(rows)


def run_seed(steps: int, seed: int, out: Path, paths: dict[str, Path], **demo_overrides) -> dict:
    """Train and evaluate both arms at one seed (run folders out/{full,single}); arm -> stats."""
    from rich.console import Console

    from flankit.demo import DemoConfig, run_demo

    result: dict = {}
    for arm in ARMS:
        run_dir = out / arm
        if run_dir.exists():  # a fresh run, never a silent resume of another budget
            shutil.rmtree(run_dir)
        cfg = DemoConfig(
            out=str(run_dir),
            **ABLATION_RECIPE,
            train_steps=steps,
            seed=seed,
            mixture=str(paths[arm]),
            shots=[0],
            **demo_overrides,
        )
        doc = run_demo(cfg, console=Console(stderr=True, quiet=True))
        result[arm] = arm_stats(run_dir, doc, trained_templates(paths[arm]))
    return result


def mean_over_seeds(per_seed: list[dict]) -> dict:
    """An arm's statistics averaged over seeds (per task too); steps and templates are the same for all."""
    keys = ("heldout_mean", "heldout_spread", "cps", "trained_template_mean")
    first = per_seed[0]
    return {
        **{k: statistics.fmean(r[k] for r in per_seed) for k in keys},
        "templates_trained_per_task": first["templates_trained_per_task"],
        "per_task": {
            task: {
                k: statistics.fmean(r["per_task"][task][k] for r in per_seed) for k in first["per_task"][task]
            }
            for task in first["per_task"]
        },
        "steps": first["steps"],
    }


def verdict(full: dict, single: dict) -> dict:
    """Spread ratio, mean difference and whether both halves of the FLAN effect hold."""
    return {
        "spread_full_over_single": full["heldout_spread"] / single["heldout_spread"]
        if single["heldout_spread"]
        else None,
        "heldout_mean_full_minus_single": full["heldout_mean"] - single["heldout_mean"],
        "flan_effect": bool(
            full["heldout_mean"] > single["heldout_mean"]
            and full["heldout_spread"] <= 0.5 * single["heldout_spread"]
        ),
    }


def run(steps: int, seeds: list[int], out: Path = OUT, **demo_overrides) -> dict:
    """Train and evaluate both arms at every seed; `full`/`single` average over the seeds, and the
    verdict is taken on those averages (a spread over two templates is noisy at one seed)."""
    from flankit.demo import DemoConfig

    # the budget both arms share at every seed
    cfg = DemoConfig(**ABLATION_RECIPE, train_steps=steps, **demo_overrides)
    paths = write_mixtures(out)
    per_seed = {seed: run_seed(steps, seed, out / f"seed{seed}", paths, **demo_overrides) for seed in seeds}
    budget = {
        "steps": per_seed[seeds[0]]["full"]["steps"],
        "formats": FORMATS,
        "model": cfg.size,
        "batch_size": cfg.batch_size,
        "eval_items_per_template": cfg.eval_limit,
    }
    return aggregate(per_seed, budget)


def aggregate(per_seed: dict, budget: dict) -> dict:
    """The result document: arms averaged over the seeds, the verdict on those averages, each seed."""
    seeds = list(per_seed)
    result: dict = {arm: mean_over_seeds([per_seed[s][arm] for s in seeds]) for arm in ARMS}
    result["budget"] = {**budget, "seeds": seeds}
    ratios = verdict(result["full"], result["single"])
    result["flan_effect"] = ratios.pop("flan_effect")
    result["ratios"] = ratios
    result["per_seed"] = {
        seed: {arm: r[arm] for arm in ARMS} | verdict(r["full"], r["single"]) for seed, r in per_seed.items()
    }
    return result


def combine(docs: list[dict]) -> dict:
    """One result from runs of other seeds (e.g. one process per seed) at the same budget."""
    per_seed: dict = {}
    budget = None
    for doc in docs:
        mine = {k: v for k, v in doc["budget"].items() if k != "seeds"}
        if budget is not None and mine != budget:
            raise SystemExit(f"cannot combine runs of different budgets: {mine} vs {budget}")
        budget = mine
        for seed, r in doc["per_seed"].items():
            if int(seed) in per_seed:
                raise SystemExit(f"seed {seed} is in more than one of the runs to combine")
            per_seed[int(seed)] = r
    return aggregate(dict(sorted(per_seed.items())), budget)


def read_result(path: str) -> dict:
    """A result document from a file holding this script's output (the JSON object first)."""
    try:
        doc, _ = json.JSONDecoder().raw_decode(Path(path).read_text(encoding="utf-8").lstrip())
        if not {"budget", "per_seed"} <= doc.keys():
            raise ValueError("no 'budget' and 'per_seed'")
    except (OSError, ValueError, AttributeError) as exc:
        raise SystemExit(f"{path}: not the output of template_ablation.py ({exc})") from None
    return doc


def positive_int(value: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"give a positive whole number, not {value!r}")
    return n


def seed_list(value: str) -> list[int]:
    """`--seeds`: comma-separated integers, e.g. 0,1,2."""
    try:
        return [int(x) for x in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"give comma-separated integer seeds such as 0,1,2, not {value!r}"
        ) from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--steps",
        type=positive_int,
        default=ABLATION_STEPS,
        help="training steps per arm (default: the budget the verdict was measured at)",
    )
    ap.add_argument(
        "--seeds",
        type=seed_list,
        default=[0, 1],
        help="comma-separated seeds; the verdict uses the arms' averages over them",
    )
    ap.add_argument(
        "--eval-limit", type=int, default=400, help="test items per (task, template): spreads need many"
    )
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (results do not depend on it)")
    ap.add_argument(
        "--combine",
        nargs="+",
        metavar="FILE",
        help="train nothing: merge saved outputs of runs over other seeds (one process per seed)",
    )
    args = ap.parse_args()
    if args.combine:
        result = combine([read_result(f) for f in args.combine])
    else:
        result = run(args.steps, args.seeds, eval_limit=args.eval_limit, threads=args.threads)
    print(json.dumps(result, indent=2))
    print()
    print(markdown(result))


if __name__ == "__main__":
    main()
