"""Evaluation reports: results.json, report.md, PNG plots, and run-to-run comparison.

`write_report(results, out_dir)` writes

- `results.json`: the harness's document as is (every score and standard error, model,
  config, task versions, seed, robustness and gaps);
- `report.md`: robustness per task (mean, std, min, max, spread, MaxP, CPS), every cell's
  scores with standard errors, the zero/few-shot and seen/held-out gaps, skipped cells;
- `plots/templates_<task>.png`: per-template score bars (with stderr) per task;
- `plots/robustness.png`: a box plot of template scores per task (the spread across prompts).

`compare(run_a, run_b)` pairs the cells two runs share and gives B - A with the standard
error of the difference, sqrt(se_a^2 + se_b^2) (independent runs).
Plots use matplotlib's Agg backend: no display needed.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from flankit.errors import DataError

RESULTS = "results.json"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _cell_key(c: dict) -> tuple:
    return (c["task"], c["template"], c["shots"], c["cot"])


def _table(header: list[str], rows: list[list[object]]) -> str:
    def fmt(v: object) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(results: dict) -> str:
    """The report.md text for a results document."""
    parts = [
        f"# Evaluation of {results['model']}",
        f"Created {results['created']}, seed {results['seed']}. Config: `{json.dumps(results['config'])}`",
        "## Robustness across templates (primary metric)",
        _table(
            [
                "task",
                "shots",
                "cot",
                "metric",
                "templates",
                "mean",
                "std",
                "min",
                "max",
                "spread",
                "MaxP",
                "CPS",
            ],
            [
                [
                    r["task"],
                    r["shots"],
                    r["cot"],
                    r["metric"],
                    r["n"],
                    r["mean"],
                    r["std"],
                    r["min"],
                    r["max"],
                    r["spread"],
                    r["maxp"],
                    r["cps"],
                ]
                for r in results["robustness"]
            ],
        ),
        "## Cells",
        _table(
            ["task", "v", "template", "held out", "shots", "cot", "mode", "n", "scores (± stderr)"],
            [
                [
                    c["task"],
                    results["tasks"][c["task"]]["version"],
                    c["template"],
                    c["heldout"],
                    c["shots"],
                    c["cot"],
                    c["mode"],
                    c["n"],
                    ", ".join(f"{m} {v:.4f} ± {c['stderr'][m]:.4f}" for m, v in c["scores"].items()),
                ]
                for c in results["cells"]
            ],
        ),
        "## Gaps",
    ]
    for label, key in (
        ("Few-shot minus zero-shot", "shot_gap"),
        ("Seen minus held-out templates", "template_gap"),
    ):
        gap = results[key]
        mean = "n/a (no pairs)" if gap["mean"] is None else f"{gap['mean']:.4f}"
        parts.append(
            f"- {label}: mean {mean}" + "".join(f"; {t} {v:.4f}" for t, v in gap["per_task"].items())
        )
    if results["skipped"]:
        parts += [
            "## Skipped cells",
            _table(list(results["skipped"][0]), [list(s.values()) for s in results["skipped"]]),
        ]
    return "\n\n".join(parts) + "\n"


def plot(results: dict, out_dir: Path) -> list[Path]:
    """Write per-task template bar charts and the robustness box plot; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    by_task: dict[str, list[dict]] = {}
    for c in results["cells"]:
        by_task.setdefault(c["task"], []).append(c)
    for task, cells in by_task.items():
        labels = [
            f"{c['template']}{'*' if c['heldout'] else ''}\n{c['shots']}-shot{' CoT' if c['cot'] else ''}"
            for c in cells
        ]
        metric = cells[0]["metric"]
        fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(cells) + 2), 3.5))
        ax.bar(
            range(len(cells)),
            [c["scores"][metric] for c in cells],
            yerr=[c["stderr"][metric] for c in cells],
            color=["tab:orange" if c["heldout"] else "tab:blue" for c in cells],
        )
        ax.set_xticks(range(len(cells)), labels, fontsize=7)
        ax.set_ylabel(metric)
        ax.set_title(f"{task} per template (* held out)")
        fig.tight_layout()
        paths.append(out_dir / f"templates_{_safe(task)}.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    groups: dict[str, list[float]] = {}
    for c in results["cells"]:
        label = f"{c['task']}\n{c['shots']}-shot{' CoT' if c['cot'] else ''}"
        groups.setdefault(label, []).append(c["scores"][c["metric"]])
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(groups) + 2), 4))
    ax.boxplot(list(groups.values()))
    ax.set_xticks(range(1, len(groups) + 1), list(groups), fontsize=6, rotation=90)
    ax.set_ylabel("score across templates (primary metric)")
    ax.set_title("Prompt robustness")
    fig.tight_layout()
    paths.append(out_dir / "robustness.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def write_report(results: dict, out_dir: str | Path, *, plots: bool = True) -> dict[str, Path]:
    """Write results.json, report.md and (optionally) plots under `out_dir`; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULTS).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "report.md").write_text(markdown(results), encoding="utf-8")
    paths = {"results": out / RESULTS, "report": out / "report.md"}
    if plots:
        for p in plot(results, out / "plots"):
            paths[p.stem] = p
    return paths


def load_results(run: str | Path) -> dict:
    """A run's results document, from its folder or its results.json.

    Raises:
        DataError: no results.json there, or it is not one.
    """
    path = Path(run)
    path = path / RESULTS if path.is_dir() else path
    if not path.is_file():
        raise DataError(f"No {RESULTS} at {path}. Pass a folder written by `flankit eval --out DIR`.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise DataError(f"{path} is not a flankit {RESULTS} (expected an object with a 'cells' list).")
    return data


def compare(run_a: str | Path | dict, run_b: str | Path | dict) -> list[dict]:
    """Side-by-side rows for the cells and metrics both runs have, with B - A and its stderr.

    Raises:
        DataError: a run cannot be read, or the runs share no cell.
    """
    a = run_a if isinstance(run_a, dict) else load_results(run_a)
    b = run_b if isinstance(run_b, dict) else load_results(run_b)
    b_cells = {_cell_key(c): c for c in b["cells"]}
    rows = []
    for ca in a["cells"]:
        cb = b_cells.get(_cell_key(ca))
        if cb is None:
            continue
        for metric in ca["scores"]:
            if metric not in cb["scores"]:
                continue
            sa, sb = ca["stderr"][metric], cb["stderr"][metric]
            rows.append(
                {
                    "task": ca["task"],
                    "template": ca["template"],
                    "shots": ca["shots"],
                    "cot": ca["cot"],
                    "metric": metric,
                    "a": ca["scores"][metric],
                    "a_stderr": sa,
                    "b": cb["scores"][metric],
                    "b_stderr": sb,
                    "diff": cb["scores"][metric] - ca["scores"][metric],
                    "diff_stderr": math.sqrt(sa**2 + sb**2),
                }
            )
    if not rows:
        raise DataError(
            "The two runs share no (task, template, shots, cot) cell; compare runs of the same grid."
        )
    return rows
