"""CLI commands for data: `flankit tasks list`, `flankit mixture build`, `flankit mixture stats`.

Commands only parse options, call flankit.data and print; see flankit.data.mixture for the recipe.
"""

from __future__ import annotations

from pathlib import Path

import typer

from flankit.cli.app import app

tasks_app = typer.Typer(help="Inspect the task catalog.", no_args_is_help=True)
mixture_app = typer.Typer(help="Build and inspect instruction-tuning mixtures.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
app.add_typer(mixture_app, name="mixture")


def _where(task) -> str:
    src = task.sources[0]
    if task.source_type == "builtin":
        return f"builtin:{src.get('generator', task.name)}"
    if task.source_type == "hf":
        return f"hf:{src['dataset']}" + (f"/{src['config']}" if src.get("config") else "")
    return "local:" + ",".join(sorted(src.get("files", {})))


@tasks_app.command("list")
def tasks_list(
    offline: bool = typer.Option(False, "--offline", help="Only tasks that need no network."),
    task_file: list[Path] = typer.Option([], "--task-file", help="Also load tasks from this YAML file."),
) -> None:
    """List tasks: name, cluster, number of templates, sources."""
    from flankit.data.tasks import list_tasks, load_task_file
    from flankit.data.templates import templates_for

    for f in task_file:
        load_task_file(f)
    rows = [("task", "cluster", "templates", "source")]
    for t in list_tasks(include_online=not offline):
        rows.append((t.name, t.cluster, str(len(templates_for(t.name))), _where(t)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip())


@mixture_app.command("build")
def mixture_build(
    mixture: str = typer.Option("builtin", "--mixture", "-m", help="Mixture name or YAML path."),
    num_examples: int = typer.Option(10000, "--num-examples", "-n", help="Number of records."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    out: Path = typer.Option(..., "--out", "-o", help="Output JSONL file."),
    skip_bad_lines: bool = typer.Option(
        False, "--skip-bad-lines", help="Skip malformed lines in local files."
    ),
) -> None:
    """Sample a mixture into JSONL: one {inputs, targets, task, cluster, template, format} per line."""
    import json

    from flankit.data.mixture import load_mixture
    from flankit.errors import ConfigError

    if num_examples < 1:
        raise ConfigError("--num-examples must be at least 1")
    mix = load_mixture(mixture, skip_bad_lines=skip_bad_lines or None)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        for rec in mix.sample(num_examples, seed):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    typer.echo(
        f"wrote {num_examples} examples of mixture {mix.name!r} ({len(mix.task_names)} tasks) to {out}"
    )


@mixture_app.command("stats")
def mixture_stats(
    file: Path = typer.Argument(..., help="A JSONL file from `flankit mixture build`."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a length histogram PNG here."),
) -> None:
    """Print rates, counts per task and format, and a length histogram."""
    from flankit.data.stats import mixture_stats as compute
    from flankit.data.stats import plot_lengths

    st = compute(file)
    typer.echo(f"examples: {st['examples']}")
    typer.echo("task                  count    rate")
    for name, v in st["tasks"].items():
        typer.echo(f"{name:<20} {v['count']:>7} {v['rate']:>7.4f}")
    typer.echo("formats: " + ", ".join(f"{k}={v}" for k, v in st["formats"].items()))
    typer.echo(f"input words: {st['input_words']}   target words: {st['target_words']}")
    top = max(st["input_length_histogram"].values()) or 1
    for b, c in st["input_length_histogram"].items():
        typer.echo(f"  {b:>6} {c:>7} {'#' * round(40 * c / top)}")
    if plot:
        typer.echo(f"plot: {plot_lengths(st, plot)}")
