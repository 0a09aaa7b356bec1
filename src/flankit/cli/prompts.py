"""CLI commands: `flankit prompts list|render|validate` over the prompt registry.

The packaged registry (flankit/inference/prompts.yaml) is always loaded; `--file` adds user
YAML files (repeatable) with the same `prompts:` layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from flankit.cli.app import app
from flankit.errors import ConfigError

prompts_app = typer.Typer(help="List, render and validate named prompt templates.", no_args_is_help=True)
app.add_typer(prompts_app, name="prompts")

FILES = typer.Option(None, "--file", "-f", help="Extra prompt YAML file (repeatable).")


def _registry(files: list[Path] | None):
    from flankit.inference.prompting import load_registry

    return load_registry(*(files or []))


@prompts_app.command("list")
def list_prompts(
    files: list[Path] = FILES,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Every template: name, version, fields and description."""
    rows = [
        {"name": t.name, "version": t.version, "fields": t.fields, "description": t.description}
        for t in _registry(files).list()
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "version", "fields", "description", title="prompts")
    for r in rows:
        table.add_row(r["name"], str(r["version"]), ", ".join(r["fields"]), r["description"])
    Console().print(table)


@prompts_app.command("render")
def render(
    name: str = typer.Argument(..., help="Template name (see `flankit prompts list`)."),
    assignments: list[str] = typer.Argument(None, help="Variables as key=value."),
    version: int = typer.Option(None, "--version", "-v", help="Template version (default: latest)."),
    files: list[Path] = FILES,
) -> None:
    """Print a template filled with key=value variables."""
    variables = {}
    for item in assignments or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"variable {item!r} must look like key=value (e.g. text='Hello')")
        variables[key] = value
    print(_registry(files).render(name, version, **variables))


@prompts_app.command("validate")
def validate(files: list[Path] = FILES) -> None:
    """Check that every template renders; exits non-zero and lists problems otherwise."""
    reg = _registry(files)
    problems = reg.validate()
    if problems:
        raise ConfigError(f"{len(problems)} broken prompt template(s):\n  " + "\n  ".join(problems))
    print(f"ok: {len(reg)} templates render")
