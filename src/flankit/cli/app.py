"""The one typer app. Command modules in this package attach their commands to `app`.

Commands hold no logic: they parse options, call the packages, and print. Heavy imports
(torch, transformers) happen inside the command functions so `flankit --help` stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="flankit",
    help="FLAN-style instruction tuning, evaluation and serving for T5 models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
