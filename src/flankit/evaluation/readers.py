"""Readers for evaluation sets kept in their original formats.

Each reader turns a file into evaluation items shaped like `flankit.data.evalsets` items:
`{"inputs", "targets", "answer", "options", "task", "template", "format"}`, so the harness
scores a file exactly as it scores a builtin task. Formats (registry `formats`):

- `bbh`: BIG-Bench Hard JSON, `{"examples": [{"input": ..., "target": ...}]}` (Suzgun et al.
  2022). Scored by strict exact match. When the input lists `Options:` the options become the
  answer set for rank classification: `(A) text` lines give the letters `(A)`, `(B)`, ...
  (the targets are letters), `- text` lines give the texts.
- `gsm8k`: GSM8K JSONL, `{"question": ..., "answer": "... #### N"}` (Cobbe et al. 2021).
  The answer is the number after `####`; generations pass the `gsm8k` filter first.
- `jsonl`: a generic local file, one JSON object a line with `inputs` and `targets`
  (optionally `options`: a list with the target among them).

`read_file(path, format)` reads any of them; a file in another format raises `DataError`
naming the format it expected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flankit.errors import DataError
from flankit.evaluation.metrics import normalize_number
from flankit.registry import Registry

_LETTER_OPTION = re.compile(r"^\(([A-Z])\)\s")
_DASH_OPTION = re.compile(r"^-\s*(.+?)\s*$")


@dataclass(frozen=True)
class FileFormat:
    """How to read one evaluation-file format and how to score it."""

    name: str
    read: Callable[[Path], list[dict]]
    metrics: tuple[str, ...]
    filters: tuple[str, ...]
    expected: str  # shown in errors: what a file in this format looks like
    train_file: str | None = None  # sibling file with few-shot exemplars, when the format has one


formats: Registry[FileFormat] = Registry("evaluation file format")


def _item(task: str, inputs: str, targets: str, answer: str, options: list[str] | None, fmt: str) -> dict:
    return {
        "inputs": inputs,
        "targets": targets,
        "answer": answer,
        "options": options,
        "task": task,
        "template": "original",
        "format": fmt,
    }


def _wrong(path: Path, fmt: FileFormat, detail: str) -> DataError:
    return DataError(f"{path} is not a {fmt.name} file ({detail}). Expected {fmt.expected}.")


def parse_bbh_options(text: str) -> list[str] | None:
    """The answer options listed after `Options:` in a BBH input, or None when there are none."""
    if "Options:" not in text:
        return None
    options = []
    for line in text.rsplit("Options:", 1)[1].strip().splitlines():
        line = line.strip()
        if letter := _LETTER_OPTION.match(line):
            options.append(f"({letter.group(1)})")
        elif dash := _DASH_OPTION.match(line):
            options.append(dash.group(1))
    return options or None


def _load_json(path: Path, fmt: FileFormat) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise _wrong(path, fmt, f"not one JSON document: {exc.msg} at line {exc.lineno}") from None


def _read_bbh(path: Path) -> list[dict]:
    fmt = formats.get("bbh")
    data = _load_json(path, fmt)
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise _wrong(path, fmt, 'no "examples" list at the top level')
    task = f"bbh:{path.stem}"
    items = []
    for i, ex in enumerate(data["examples"]):
        if not isinstance(ex, dict) or "input" not in ex or "target" not in ex:
            raise _wrong(path, fmt, f'example {i} lacks "input" or "target"')
        target = str(ex["target"]).strip()
        options = parse_bbh_options(ex["input"])
        if options is not None and target not in options:
            options = None  # an unusual option layout: fall back to generation + exact match
        items.append(_item(task, ex["input"], target, target, options, "bbh"))
    return items


def _jsonl_rows(path: Path, fmt: FileFormat, required: tuple[str, ...]) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise _wrong(path, fmt, f"line {lineno} is not a JSON object") from None
            if not isinstance(row, dict) or any(k not in row for k in required):
                raise _wrong(path, fmt, f"line {lineno} lacks one of the fields {', '.join(required)}")
            rows.append(row)
    return rows


def gsm8k_answer(solution: str) -> str:
    """The final number of a GSM8K solution: what follows `####`, without commas."""
    return normalize_number(solution.rsplit("####", 1)[1])


def _read_gsm8k(path: Path) -> list[dict]:
    fmt = formats.get("gsm8k")
    items = []
    for i, row in enumerate(_jsonl_rows(path, fmt, ("question", "answer")), 1):
        if "####" not in row["answer"]:
            raise _wrong(path, fmt, f"answer {i} has no '#### N' final line")
        items.append(
            _item("gsm8k", row["question"], row["answer"], gsm8k_answer(row["answer"]), None, "gsm8k")
        )
    return items


def _read_jsonl(path: Path) -> list[dict]:
    fmt = formats.get("jsonl")
    items = []
    for i, row in enumerate(_jsonl_rows(path, fmt, ("inputs", "targets")), 1):
        options = row.get("options")
        if options is not None and str(row["targets"]) not in [str(o) for o in options]:
            raise _wrong(path, fmt, f"line {i}: the target is not among its options")
        task = str(row.get("task", path.stem))
        items.append(
            _item(task, str(row["inputs"]), str(row["targets"]), str(row["targets"]), options, "jsonl")
        )
    return items


formats.add(
    "bbh",
    FileFormat(
        "bbh",
        _read_bbh,
        ("strict_match",),
        ("answer_is", "first_option"),
        'BIG-Bench Hard JSON: {"examples": [{"input": "...", "target": "..."}, ...]}',
    ),
)
formats.add(
    "gsm8k",
    FileFormat(
        "gsm8k",
        _read_gsm8k,
        ("accuracy",),
        ("gsm8k",),
        'GSM8K JSONL: one {"question": "...", "answer": "... #### N"} object per line',
        train_file="train.jsonl",
    ),
)
formats.add(
    "jsonl",
    FileFormat(
        "jsonl",
        _read_jsonl,
        ("exact_match",),
        ("answer_is", "first_option"),
        'JSONL: one {"inputs": "...", "targets": "...", "options": [...] (optional)} object per line',
    ),
)


def guess_format(path: str | Path) -> str:
    """The format a file name suggests: `.json` -> bbh, `gsm8k` in the path -> gsm8k, else jsonl."""
    p = Path(path)
    if p.suffix == ".json":
        return "bbh"
    return "gsm8k" if "gsm8k" in str(p).lower() else "jsonl"


def read_file(path: str | Path, format: str | None = None, *, limit: int | None = None) -> list[dict]:
    """Read an evaluation file into harness items.

    Args:
        path: the file.
        format: `bbh`, `gsm8k` or `jsonl`; guessed from the name when None.
        limit: keep only the first `limit` items.

    Raises:
        DataError: the file is missing, empty, or not in `format` (the message shows the format).
        UnknownNameError: unknown format name.
    """
    p = Path(path)
    fmt = formats.get(format or guess_format(p))
    if not p.is_file():
        raise DataError(f"Evaluation file {p} does not exist. Pass a {fmt.name} file: {fmt.expected}.")
    items = fmt.read(p)
    if not items:
        raise DataError(f"{p} holds no examples. Expected {fmt.expected}.")
    return items[:limit] if limit is not None else items


def read_bbh(path: str | Path, *, limit: int | None = None) -> list[dict]:
    """Read one BIG-Bench Hard task file (see `read_file`)."""
    return read_file(path, "bbh", limit=limit)


def read_gsm8k(path: str | Path, *, limit: int | None = None) -> list[dict]:
    """Read a GSM8K JSONL split (see `read_file`)."""
    return read_file(path, "gsm8k", limit=limit)
