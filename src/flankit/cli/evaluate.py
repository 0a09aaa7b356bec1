"""CLI commands: `flankit eval ...` (run the evaluation grid) and `flankit eval compare A B`.

    flankit eval --model DIR --tasks sst2,rte --templates all --shots 0,3 --out runs/a
    flankit eval --model DIR --tasks bbh --data ../shared/external --limit 50 --out runs/bbh
    flankit eval compare runs/a runs/b

`eval` is a typer group whose callback runs the grid when no subcommand is given, so both
spellings above work. The engine loads lazily (`load_model`), after the grid is checked.
"""

from __future__ import annotations

from typing import Any

import typer

from flankit.cli.app import app
from flankit.errors import ConfigError

eval_app = typer.Typer(
    help="Evaluate a model on tasks x templates x shots; `compare` two runs.", invoke_without_command=True
)
app.add_typer(eval_app, name="eval")


def _names(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _shots(text: str) -> list[int]:
    try:
        return [int(s) for s in _names(text)]
    except ValueError:
        raise ConfigError(f"--shots takes comma-separated numbers such as 0,3, not {text!r}.") from None


def load_model(path: str, backend: str, dtype: str) -> Any:
    """The inference engine for `path` (a separate function so tests can swap in a fake model)."""
    from flankit.inference.engine import Engine

    return Engine.from_pretrained(path, backend=backend, dtype=dtype)


@eval_app.callback()
def run(
    ctx: typer.Context,
    model: str = typer.Option(None, "--model", help="Model folder (or hub id where the network works)."),
    tasks: str = typer.Option(
        None, "--tasks", help="Comma-separated tasks: catalog names, bbh, bbh:NAME, gsm8k."
    ),
    mixture: str = typer.Option(None, "--mixture", help="Evaluate the tasks of this mixture (name or YAML)."),
    templates: str = typer.Option("all", "--templates", help="seen | heldout | all."),
    shots: str = typer.Option("0", "--shots", help="Comma-separated exemplar counts, e.g. 0,3."),
    cot: bool = typer.Option(False, "--cot", help="Also evaluate chain-of-thought prompts."),
    limit: int = typer.Option(None, "--limit", help="At most N items per cell."),
    heldout_cluster: str = typer.Option(
        None, "--heldout-cluster", help="Evaluate only this cluster's tasks."
    ),
    data: str = typer.Option(
        None, "--data", help="Evaluation FILE in the task's format, or a folder with bbh/, gsm8k/."
    ),
    backend: str = typer.Option("native", "--backend", help="native | ctranslate2 | hf."),
    dtype: str = typer.Option("fp32", "--dtype", help="fp32 | bf16 | int8."),
    batch_size: int = typer.Option(16, "--batch-size", help="Prompts per model call."),
    seed: int = typer.Option(0, "--seed", help="Seed for exemplars and bootstrap."),
    truncate: bool = typer.Option(False, "--truncate", help="Cut over-long prompts instead of stopping."),
    out: str = typer.Option(None, "--out", help="Folder for results.json, report.md and plots/."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write PNG plots."),
) -> None:
    """Evaluate MODEL on the grid and write results.json, report.md and plots to OUT."""
    if ctx.invoked_subcommand is not None:
        return
    if model is None or out is None:
        raise ConfigError("`flankit eval` needs --model DIR and --out DIR (see `flankit eval --help`).")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from flankit.evaluation.catalog import mixture_tasks
    from flankit.evaluation.harness import EvalConfig, build_cells, evaluate
    from flankit.evaluation.report import write_report

    names = _names(tasks) + (mixture_tasks(mixture) if mixture else [])
    config = EvalConfig(
        tasks=names,
        templates=templates,
        shots=_shots(shots),
        cot=cot,
        limit=limit,
        seed=seed,
        heldout_cluster=heldout_cluster,
        data=data,
        batch_size=batch_size,
        truncate=truncate,
    )
    grid = build_cells(config)  # fail on bad tasks/templates/data before loading a model
    engine = load_model(model, backend, dtype)
    console = Console(stderr=True)
    columns = (TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task_id = bar.add_task("eval", total=None)
        results = evaluate(
            engine,
            config,
            grid=grid,
            model_name=model,
            progress=lambda done, total: bar.update(task_id, completed=done, total=total),
        )
    paths = write_report(results, out, plots=plots)
    for r in results["robustness"]:
        console.print(
            f"{r['task']} {r['shots']}-shot{' CoT' if r['cot'] else ''}: {r['metric']} mean {r['mean']:.4f} "
            f"(min {r['min']:.4f}, max {r['max']:.4f}, CPS {r['cps']:.4f}, {r['n']} templates)"
        )
    console.print(f"wrote {paths['results']} and {paths['report']}")


@eval_app.command("compare")
def compare_cmd(
    run_a: str = typer.Argument(..., help="First run folder (or its results.json)."),
    run_b: str = typer.Argument(..., help="Second run folder (or its results.json)."),
) -> None:
    """Side-by-side scores of two runs, with B - A and the standard error of the difference."""
    from rich.console import Console
    from rich.table import Table

    from flankit.evaluation.report import compare

    table = Table(title=f"A = {run_a}   B = {run_b}")
    for col in ("task", "template", "shots", "cot", "metric", "A", "B", "B - A"):
        table.add_column(col)
    for r in compare(run_a, run_b):
        table.add_row(
            r["task"],
            r["template"],
            str(r["shots"]),
            str(r["cot"]),
            r["metric"],
            f"{r['a']:.4f} ± {r['a_stderr']:.4f}",
            f"{r['b']:.4f} ± {r['b_stderr']:.4f}",
            f"{r['diff']:+.4f} ± {r['diff_stderr']:.4f}",
        )
    Console(width=160).print(table)
