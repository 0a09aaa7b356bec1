"""CLI commands: `flankit train` and `flankit merge` (registered on the shared app)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from flankit.cli.app import app


@app.command("train")
def train(
    config: Path = typer.Option(None, "--config", "-c", help="Training config YAML (see configs/)."),
    overrides: list[str] = typer.Option(None, "--set", help="Override a config key: --set train.steps=200."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint in output_dir."),
) -> None:
    """Instruction-tune (or span-corruption pretrain) a T5; see configs/tiny.yaml."""
    from flankit.training.config import load_config
    from flankit.training.trainer import train as run

    summary = run(load_config(config, overrides or []), resume=resume)
    print(json.dumps(summary, indent=2))


@app.command("merge")
def merge(
    adapter: Path = typer.Argument(..., help="LoRA adapter folder written by `flankit train` (OUT/adapter)."),
    out: Path = typer.Argument(..., help="Folder for the merged full checkpoint."),
    base: str = typer.Option(None, "--base", help="Base model (default: the one the adapter records)."),
) -> None:
    """Fold a LoRA adapter into its base model and save a full Hugging Face checkpoint."""
    from flankit.modeling.lora import merge_adapter

    print(f"merged model written to {merge_adapter(adapter, out, base)}")
