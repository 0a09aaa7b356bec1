"""Evaluation overhead: harness bookkeeping per item, and bootstrap standard errors.

Usage: `python benchmarks/eval_harness.py [--data ../shared/external] [--n-boot 1000]`

1. The whole grid machinery (readers, filters, metrics, bootstrap, robustness) on all 27
   BIG-Bench Hard files (6,511 items) with a gold-echo model that costs nothing, so the
   time measured is the harness's own: items per second, next to the time `compute` alone takes.
2. Bootstrap standard errors of ROUGE-L on 1,000 items: flankit's way (score items once, resample
   the cached scores with numpy) vs the common way (re-run the metric on every resample);
   both use the same resample indices, so the results must agree exactly.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from flankit.evaluation import metrics as M
from flankit.evaluation.harness import EvalConfig, build_cells, evaluate

ROOT = Path(__file__).resolve().parents[1]


class Echo:
    """Returns each item's reference (queued per prompt: BBH repeats some prompts)."""

    def __init__(self, cells):
        self.queues = {}
        for cell in cells:
            for it in cell.items:
                self.queues.setdefault(it["inputs"], []).append(it)

    def generate(self, prompts, config=None, **kw):
        return [self.queues[p].pop(0)["targets"] for p in prompts]

    def classify(self, prompts, options, normalize="mean", **kw):
        return [type("C", (), {"choice": self.queues[p].pop(0)["targets"]})() for p in prompts]


def harness_overhead(data: str, n_boot: int) -> dict:
    config = EvalConfig(tasks=["bbh"], data=data, n_boot=n_boot)
    t0 = time.perf_counter()
    grid = build_cells(config)
    t1 = time.perf_counter()
    results = evaluate(Echo(grid[0]), config, grid=grid)
    t2 = time.perf_counter()
    n = sum(c["n"] for c in results["cells"])
    assert all(c["scores"]["strict_match"] == 1.0 for c in results["cells"])
    return {
        "items": n,
        "read_s": round(t1 - t0, 3),
        "evaluate_s": round(t2 - t1, 3),
        "items_per_s": round(n / (t2 - t0)),
    }


def bootstrap_ratio(n_items: int, n_boot: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(123)
    words = [f"w{i}" for i in range(300)]
    preds = [" ".join(rng.choice(words, 12)) for _ in range(n_items)]
    refs = [" ".join(rng.choice(words, 12)) for _ in range(n_items)]
    t0 = time.perf_counter()
    ours = M.bootstrap_stderr("rougeL", preds, refs, n_boot=n_boot, seed=seed)
    t1 = time.perf_counter()
    idx = np.random.default_rng(seed).integers(0, n_items, size=(n_boot, n_items))
    naive = np.std(
        [M.compute("rougeL", [preds[i] for i in row], [refs[i] for i in row]) for row in idx], ddof=1
    )
    t2 = time.perf_counter()
    assert abs(ours - naive) < 1e-12, (ours, naive)
    return {
        "items": n_items,
        "n_boot": n_boot,
        "flankit_s": round(t1 - t0, 3),
        "recompute_s": round(t2 - t1, 3),
        "speedup": round((t2 - t1) / (t1 - t0), 1),
        "stderr": round(ours, 5),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "external"))
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()
    print(
        json.dumps(
            {
                "harness_bbh": harness_overhead(args.data, args.n_boot),
                "bootstrap_rougeL": bootstrap_ratio(1000, 100),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
