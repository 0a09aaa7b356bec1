"""Benchmark: rendering speed and memory of the mixture sampler (one process, one core).

Measures examples rendered per second for the `builtin` mixture (all formats), compared in
the same run with its peers: the zero-shot-only mixture, raw builtin generation without
rendering, and the full `mixture build` path including JSON serialisation. Memory: peak RSS
growth while streaming a 10x larger draw (flat when the sampler keeps O(tasks) state).

    python benchmarks/mixture.py [--num-examples 100000] [--seed 0]

Prints one JSON object. Target: >= 20,000 examples/s for `builtin` on one core.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import time


def _rate(fn, n: int) -> float:
    t0 = time.perf_counter()
    fn(n)
    return n / (time.perf_counter() - t0)


def _drain(it) -> None:
    for _ in it:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num-examples", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    from flankit.data.mixture import load_mixture
    from flankit.data.tasks import builtin_tasks

    n, seed = args.num_examples, args.seed
    builtin, zeroshot = load_mixture("builtin"), load_mixture("builtin_zeroshot")
    _drain(builtin.sample(2000, seed))  # warm caches (templates, option blocks)
    tasks = builtin_tasks()

    def generate_only(k: int) -> None:
        per = k // len(tasks)
        for t in tasks:
            _drain(itertools.islice(t.examples("train", seed=seed), per))

    def build_jsonl(k: int) -> None:
        with open(os.devnull, "w", encoding="utf-8") as fh:
            for rec in builtin.sample(k, seed):
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

    rates = {
        "builtin": _rate(lambda k: _drain(builtin.sample(k, seed)), n),
        "builtin_zeroshot": _rate(lambda k: _drain(zeroshot.sample(k, seed)), n),
        "generate_only": _rate(generate_only, n),
        "build_jsonl": _rate(build_jsonl, n),
    }
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _drain(builtin.sample(10 * n, seed + 1))
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "benchmark": "mixture",
                "num_examples": n,
                "examples_per_s": {k: round(v) for k, v in rates.items()},
                "ratio_vs_builtin": {k: round(v / rates["builtin"], 3) for k, v in rates.items()},
                "target_examples_per_s": 20_000,
                "meets_target": rates["builtin"] >= 20_000,
                "memory": {
                    "peak_rss_mb_after_n": round(rss0 / 1024, 1),
                    "peak_rss_mb_after_10n": round(rss1 / 1024, 1),
                    "growth_mb": round((rss1 - rss0) / 1024, 1),
                },
                "python": platform.python_version(),
                "cpu": platform.processor() or platform.machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
