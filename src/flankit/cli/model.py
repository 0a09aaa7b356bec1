"""CLI commands: `flankit model info`."""

from __future__ import annotations

import json

import typer

from flankit.cli.app import app

model_app = typer.Typer(help="Inspect models.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("info")
def info(
    name: str = typer.Argument(
        ..., help="Model folder, hub id, or a named size: micro, mini, tiny, small, base."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Parameters, layers, vocabulary and the memory the weights take in fp32 / bf16 / int8."""
    from rich.console import Console
    from rich.table import Table

    from flankit.modeling.info import model_info

    mi = model_info(name)
    if as_json:
        print(json.dumps(mi.to_dict(), indent=2))
        return
    table = Table(title=f"model {name}", show_header=False)
    rows = [
        ("parameters", f"{mi.parameters:,} ({mi.parameters / 1e6:.1f} M)"),
        ("layers (enc / dec)", f"{mi.encoder_layers} / {mi.decoder_layers}"),
        ("d_model / heads", f"{mi.d_model} / {mi.heads}"),
        ("vocabulary", f"{mi.vocab_size:,}"),
        ("feed-forward", mi.feed_forward + (" (tied embeddings)" if mi.tied_embeddings else "")),
    ] + [(f"weights {k}", f"{v:,.1f} MiB") for k, v in mi.weight_mb.items()]
    for k, v in rows:
        table.add_row(k, v)
    Console().print(table)
