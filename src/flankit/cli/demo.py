"""CLI command: `flankit demo` (the offline end-to-end run behind `make demo`)."""

from __future__ import annotations

import typer

from flankit.cli.app import app


@app.command("demo")
def demo(
    minutes: float = typer.Option(10.0, help="Budget on a 2-core CPU (sets the training steps)."),
    out: str = typer.Option("demo_out", help="Output folder."),
    seed: int = typer.Option(0, help="Seed (same seed, same numbers)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in OUT."),
    overrides: list[str] = typer.Option(
        [], "--set", help="Demo config overrides key=value (see flankit.demo.DemoConfig)."
    ),
) -> None:
    """Instruction-tune a tiny T5 on the builtin mixture, evaluate it, and show the FLAN effect."""
    from flankit import config
    from flankit.demo import DemoConfig, run_demo

    cfg = config.load(DemoConfig, None, [f"out={out}", f"minutes={minutes}", f"seed={seed}", *overrides])
    run_demo(cfg, resume=resume)
