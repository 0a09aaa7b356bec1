"""CLI: `flankit generate`, `flankit classify`, `flankit export ctranslate2`.

Single prompt: `flankit generate --model DIR "Translate: hi"`. File mode: `--input FILE.jsonl|csv
--output OUT.jsonl` (prompt column `--field`, default "prompt"; an "id" column is kept). File mode
shows a progress bar and is resumable: rows already in OUT (by input line number) are skipped,
each finished chunk is appended and flushed, so an interrupted run loses at most one chunk and
never writes a row twice. Malformed input lines are reported with their line number; the
other lines are still processed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import typer

from flankit.cli.app import app
from flankit.errors import DataError

export_app = typer.Typer(help="Export a model to another inference runtime.", no_args_is_help=True)
app.add_typer(export_app, name="export")

CHUNK = 64


def read_rows(path: Path, field: str) -> tuple[list[tuple[int, dict]], list[str]]:
    """(line number, row) pairs with a usable prompt, and messages for the malformed lines."""
    if not path.is_file():
        raise DataError(f"input file {path} does not exist.")
    rows, errors = [], []
    with path.open(encoding="utf-8", newline="") as fh:
        if path.suffix == ".csv":
            raw = [(i + 2, r) for i, r in enumerate(csv.DictReader(fh))]  # line 1 is the header
        elif path.suffix in (".jsonl", ".json"):
            raw = []
            for i, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    raw.append((i, json.loads(line)))
                except json.JSONDecodeError as exc:
                    errors.append(f"{path}:{i}: not valid JSON ({exc.msg})")
        else:
            raise DataError(f"{path}: use a .jsonl or .csv input file.")
    for line, row in raw:
        if not isinstance(row, dict) or not str(row.get(field) or "").strip():
            errors.append(f"{path}:{line}: no non-empty {field!r} field")
        else:
            rows.append((line, row))
    return rows, errors


def done_lines(path: Path) -> set[int]:
    """Input line numbers already answered in `path` (a partial last line is dropped and rewritten)."""
    if not path.is_file():
        return set()
    done, good = set(), []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            done.add(json.loads(line)["line"])
            good.append(line)
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    path.write_text("".join(g + "\n" for g in good), encoding="utf-8")
    return done


def run_file(input_path: Path, output: Path, field: str, work, label: str) -> None:
    """Apply `work(list[str]) -> list[dict]` to the pending rows in chunks, appending to `output`."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    rows, errors = read_rows(input_path, field)
    for msg in errors:
        console.print(f"[yellow]skipped[/] {msg}", soft_wrap=True)
    done = done_lines(output)
    pending = [(line, row) for line, row in rows if line not in done]
    output.parent.mkdir(parents=True, exist_ok=True)
    with Progress(console=console) as bar, output.open("a", encoding="utf-8") as out:
        task = bar.add_task(label, total=len(rows), completed=len(rows) - len(pending))
        for start in range(0, len(pending), CHUNK):
            chunk = pending[start : start + CHUNK]
            for (line, row), res in zip(chunk, work([str(r[field]) for _, r in chunk]), strict=True):
                out.write(
                    json.dumps({"line": line, **({"id": row["id"]} if "id" in row else {}), **res}) + "\n"
                )
            out.flush()
            bar.advance(task, len(chunk))
    console.print(
        f"{len(pending)} rows written to {output} ({len(rows) - len(pending)} already there, "
        f"{len(errors)} malformed)"
    )


def _engine(model: Path, backend: str, dtype: str, max_input_tokens: int):
    from flankit.inference.engine import Engine

    return Engine.from_pretrained(model, backend=backend, dtype=dtype, max_input_tokens=max_input_tokens)


def _io_check(prompt: str | None, input_path: Path | None, output: Path | None) -> None:
    if (prompt is None) == (input_path is None):
        raise DataError("give either a PROMPT or --input FILE (with --output FILE.jsonl).")
    if input_path is not None and output is None:
        raise DataError("--input needs --output FILE.jsonl for the results.")


@app.command("generate")
def generate_cmd(
    prompt: str = typer.Argument(None, help="Prompt text (or use --input)."),
    model: Path = typer.Option(..., help="Model folder."),
    backend: str = typer.Option("native", help="native | ctranslate2 | hf"),
    dtype: str = typer.Option("fp32", help="fp32 | bf16 | int8"),
    input_path: Path = typer.Option(None, "--input", help="JSONL or CSV file of prompts."),
    output: Path = typer.Option(None, help="JSONL output file (resumable)."),
    field: str = typer.Option("prompt", help="Prompt column in the input file."),
    max_new_tokens: int = typer.Option(64),
    num_beams: int = typer.Option(1),
    do_sample: bool = typer.Option(False),
    temperature: float = typer.Option(1.0),
    top_k: int = typer.Option(0),
    top_p: float = typer.Option(1.0),
    seed: int = typer.Option(None),
    stop: list[str] = typer.Option(None, help="Stop string (repeatable)."),
    allowed: str = typer.Option(None, help="Restrict outputs to these, separated by '|'."),
    max_input_tokens: int = typer.Option(512),
    truncate: bool = typer.Option(False, help="Cut over-long prompts (with a warning) instead of failing."),
) -> None:
    """Generate text for one prompt or a file of prompts."""
    from flankit.inference.engine import GenerationConfig

    _io_check(prompt, input_path, output)
    engine = _engine(model, backend, dtype, max_input_tokens)
    cfg = GenerationConfig(
        max_new_tokens=max_new_tokens,
        num_beams=num_beams,
        do_sample=do_sample,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        stop=list(stop or []),
    )
    options = allowed.split("|") if allowed else None

    def work(prompts):
        gens = engine.generate(prompts, cfg, truncate=truncate, allowed_outputs=options)
        return [{"text": g.text, "finish_reason": g.finish_reason} for g in gens]

    if prompt is not None:
        typer.echo(work([prompt])[0]["text"])
    else:
        run_file(input_path, output, field, work, "generate")


@app.command("classify")
def classify_cmd(
    prompt: str = typer.Argument(None, help="Prompt text (or use --input)."),
    model: Path = typer.Option(..., help="Model folder."),
    options: str = typer.Option(..., help="Answer options separated by '|', e.g. 'yes|no'."),
    backend: str = typer.Option("native", help="native | ctranslate2 | hf"),
    dtype: str = typer.Option("fp32", help="fp32 | bf16 | int8"),
    normalize: str = typer.Option("mean", help="mean (per token) | sum"),
    input_path: Path = typer.Option(None, "--input", help="JSONL or CSV file of prompts."),
    output: Path = typer.Option(None, help="JSONL output file (resumable)."),
    field: str = typer.Option("prompt", help="Prompt column in the input file."),
    max_input_tokens: int = typer.Option(512),
    truncate: bool = typer.Option(False, help="Cut over-long prompts (with a warning) instead of failing."),
) -> None:
    """Rank-classify one prompt or a file of prompts among fixed options."""
    _io_check(prompt, input_path, output)
    engine = _engine(model, backend, dtype, max_input_tokens)
    opts = [o.strip() for o in options.split("|")]

    def work(prompts):
        return [
            {"choice": c.choice, "scores": c.scores, "probs": c.probs}
            for c in engine.classify(prompts, opts, normalize=normalize, truncate=truncate)
        ]

    if prompt is not None:
        typer.echo(json.dumps(work([prompt])[0]))
    else:
        run_file(input_path, output, field, work, "classify")


@export_app.command("ctranslate2")
def export_ct2_cmd(
    model: Path = typer.Option(..., help="Model folder (Hugging Face T5 layout)."),
    out: Path = typer.Option(..., help="Output folder for the CTranslate2 model."),
    quantization: str = typer.Option(None, help="Weight type, e.g. int8 or bfloat16 (default: as stored)."),
    force: bool = typer.Option(False, help="Overwrite a non-empty output folder."),
) -> None:
    """Convert a model for `--backend ctranslate2`."""
    from flankit.modeling.export import export_ctranslate2

    typer.echo(f"exported to {export_ctranslate2(model, out, quantization, force)}")
