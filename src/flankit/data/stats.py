"""Statistics of a built mixture file (JSONL records): rates, counts per task/format, lengths.

Used by `flankit mixture stats FILE.jsonl [--plot PNG]`. Lengths are whitespace words, a cheap
stand-in for tokens. The plot is a PNG histogram of input and target lengths (matplotlib, Agg).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from flankit.errors import DataError

BINS = (8, 16, 32, 64, 128, 256, 512)
REQUIRED = ("inputs", "targets", "task", "cluster", "template", "format")


def _bin(n: int) -> str:
    for b in BINS:
        if n <= b:
            return f"<={b}"
    return f">{BINS[-1]}"


def mixture_stats(path: str | Path) -> dict:
    """Counts and length summaries of a mixture JSONL file (DataError on malformed lines)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"No such file: {path}. Build one with `flankit mixture build`.")
    tasks, formats, clusters, hist = Counter(), Counter(), Counter(), Counter()
    in_lens, out_lens = [], []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                missing = [k for k in REQUIRED if k not in rec]
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{n}: invalid JSON ({exc.msg}).") from None
            if missing:
                raise DataError(f"{path}:{n}: record lacks {missing}; is this a mixture file?")
            tasks[rec["task"]] += 1
            formats[rec["format"]] += 1
            clusters[rec["cluster"]] += 1
            li, lo = len(rec["inputs"].split()), len(rec["targets"].split())
            in_lens.append(li)
            out_lens.append(lo)
            hist[_bin(li)] += 1
    total = sum(tasks.values())
    if not total:
        raise DataError(f"{path}: no records.")

    def summary(xs: list[int]) -> dict:
        xs = sorted(xs)
        return {
            "mean": round(sum(xs) / len(xs), 2),
            "p50": xs[len(xs) // 2],
            "p95": xs[int(len(xs) * 0.95)],
            "max": xs[-1],
        }

    return {
        "examples": total,
        "tasks": {k: {"count": v, "rate": round(v / total, 4)} for k, v in sorted(tasks.items())},
        "formats": dict(sorted(formats.items())),
        "clusters": dict(sorted(clusters.items())),
        "input_words": summary(in_lens),
        "target_words": summary(out_lens),
        "input_length_histogram": {b: hist.get(b, 0) for b in [f"<={b}" for b in BINS] + [f">{BINS[-1]}"]},
        "_lengths": (in_lens, out_lens),
    }


def plot_lengths(stats: dict, out: str | Path) -> Path:
    """Write a PNG histogram of input and target lengths (words)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    in_lens, out_lens = stats["_lengths"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(in_lens, bins=50, alpha=0.6, label="inputs")
    ax.hist(out_lens, bins=50, alpha=0.6, label="targets")
    ax.set_xlabel("length (whitespace words)")
    ax.set_ylabel("examples")
    ax.set_title(f"{stats['examples']} examples")
    ax.legend()
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out
