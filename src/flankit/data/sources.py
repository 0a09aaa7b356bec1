"""Example sources: builtin generators, local files (JSONL/CSV/TSV/`LABEL text`), Hugging Face.

A source spec is a mapping in a task's `sources` list:

    {type: builtin, generator: sentiment}
    {type: local, format: label_text, files: {train: sst2/train.txt, test: sst2/test.txt},
     fields: {text: text, label: label}, label_map: {"0": negative, "1": positive}}
    {type: hf, dataset: glue, config: sst2, splits: {train: train, validation: validation},
     fields: {text: sentence, label: label}, label_map: {0: negative, 1: positive}}

Field mapping (local and hf): `fields` maps each task field to a raw column, a dotted path
("answers.text.0") or a format string ("{title}. {description}"); `constants` adds fixed
fields; `hook` names a post-processing function (e.g. "gsm8k" splits the worked solution into
rationale and answer); `options_from` (a list field or several fields) builds per-example
options and `answer_from` (index, one_based, letter, text) turns the raw target into one of them;
`label_map` renames raw labels. A malformed local line raises DataError naming file and line,
unless `skip_bad_lines` is set (in the spec or by the caller).

Carving splits (local): a dataset shipped as one file gets its missing splits with
`carve: {from: test, test: 0.2, validation: 0.1}`: every row of the `from` file (default: the
only file in `files`) goes to one split by a stable hash of its raw content, the named shares
first and the rest to `train`. The assignment depends only on the row, never on its position,
a seed or the machine, so the parts are disjoint (identical rows land together) and stable.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flankit.errors import ConfigError, DataError, OfflineError
from flankit.registry import Registry

if TYPE_CHECKING:
    from flankit.data.tasks import Task

log = logging.getLogger(__name__)
HOOKS: Registry[Callable[[dict], dict]] = Registry("source hook")
FORMATS = ("jsonl", "csv", "tsv", "label_text")


@HOOKS.register("gsm8k")
def _gsm8k(rec: dict) -> dict:
    """Split a GSM8K worked solution ("... #### 42") into rationale and answer."""
    text = rec.get("answer", "")
    if "####" not in text:
        raise ValueError("GSM8K answer has no '#### N' line")
    why, ans = text.rsplit("####", 1)
    while "<<" in why:  # drop the calculator annotations "<<2+3=5>>"
        a = why.index("<<")
        b = why.find(">>", a)
        if b < 0:
            break
        why = why[:a] + why[b + 2 :]
    rec["rationale"] = " ".join(why.split())
    rec["answer"] = ans.strip().replace(",", "")
    return rec


@HOOKS.register("trec_coarse")
def _trec_coarse(rec: dict) -> dict:
    """Keep the coarse TREC class of a "COARSE:fine" label."""
    rec["label"] = rec["label"].split(":", 1)[0]
    return rec


def _get_path(raw: Any, path: str) -> Any:
    cur = raw
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, (list, tuple)) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise ValueError(f"missing field {path!r}")
    return cur


class RecordMapper:
    """Turns one raw record into a task example, or raises ValueError saying what is wrong."""

    def __init__(self, task: Task, spec: dict):
        self.task = task
        self.constants = spec.get("constants") or {}
        # Default: raw names equal the task's input and target names (hooks add e.g. the rationale).
        own = [f for f in (*task.inputs, task.target) if f not in self.constants]
        self.fields = spec.get("fields") or {f: f for f in own}
        self.hook = HOOKS.get(spec["hook"]) if spec.get("hook") else None
        self.label_map = {str(k): v for k, v in (spec.get("label_map") or {}).items()}
        self.options_from = spec.get("options_from")
        self.answer_from = spec.get("answer_from", "text")
        self.required = [f for f in task.fields if f != task.options_field]

    def __call__(self, raw: dict) -> dict:
        rec: dict[str, Any] = dict(self.constants)
        for name, src in self.fields.items():
            rec[name] = src.format_map(raw) if "{" in src else _get_path(raw, src)
        if self.hook:
            rec = self.hook(rec)
        target = self.task.target
        if self.options_from:
            opts = self.options_from
            options = [
                str(x)
                for x in (
                    _get_path(raw, opts) if isinstance(opts, str) else [_get_path(raw, o) for o in opts]
                )
            ]
            rec["options"] = options
            rec[target] = self._answer(str(rec[target]), options)
        elif self.label_map:
            key = str(rec[target])
            if key not in self.label_map:
                raise ValueError(f"label {key!r} is not in label_map {sorted(self.label_map)}")
            rec[target] = self.label_map[key]
        for f in self.required:
            v = rec.get(f)
            if v is None or (isinstance(v, str) and not v.strip()):
                raise ValueError(f"field {f!r} is missing or empty")
            if not isinstance(v, str):
                rec[f] = str(v)
        if self.task.options and rec[target] not in self.task.options:
            raise ValueError(f"label {rec[target]!r} is not one of {self.task.options}; add a label_map")
        return rec

    def _answer(self, raw: str, options: list[str]) -> str:
        how = self.answer_from
        if how == "text":
            if raw not in options:
                raise ValueError(f"answer {raw!r} is not among the options")
            return raw
        idx = {
            "index": lambda: int(raw),
            "one_based": lambda: int(raw) - 1,
            "letter": lambda: ord(raw.strip().upper()) - ord("A"),
        }[how]()
        if not 0 <= idx < len(options):
            raise ValueError(f"answer {raw!r} does not point at one of {len(options)} options")
        return options[idx]


def _resolve(spec: dict, path: str) -> Path:
    p = Path(os.path.expandvars(os.path.expanduser(path)))
    return p if p.is_absolute() or not spec.get("_base_dir") else Path(spec["_base_dir"]) / p


def _raw_rows(path: Path, fmt: str, spec: dict) -> Iterator[tuple[int, dict | str]]:
    """(line number, raw record) pairs; a str record is a problem description."""
    enc = spec.get("encoding", "utf-8")
    with open(path, encoding=enc, newline="") as fh:
        if fmt in ("csv", "tsv"):
            reader = csv.reader(fh, delimiter="," if fmt == "csv" else "\t")
            cols = spec.get("columns") or next(reader, None)
            for row in reader:
                if row and len(row) != len(cols):
                    yield reader.line_num, f"expected {len(cols)} columns, found {len(row)}"
                elif row:
                    yield reader.line_num, dict(zip(cols, row, strict=False))
            return
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if fmt == "jsonl":
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield n, f"invalid JSON ({exc.msg})"
                    continue
                yield n, rec if isinstance(rec, dict) else f"expected a JSON object, got {type(rec).__name__}"
            else:
                label, _, text = line.partition(" ")
                yield n, {"label": label, "text": text} if text.strip() else "expected 'LABEL text'"


def _carve_share(raw: dict) -> float:
    """A row's stable position in [0, 1): a hash of its raw content (not its line number)."""
    key = json.dumps(raw, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return int.from_bytes(hashlib.sha1(key).digest()[:8], "big") / 2**64


def _carve(task: Task, spec: dict, split: str) -> tuple[str, Callable[[dict], bool]] | None:
    """(file key, row filter) when `split` is carved out of one file; None when it has its own file."""
    carve = dict(spec.get("carve") or {})
    files = spec.get("files") or {}
    source = carve.pop("from", next(iter(files)) if len(files) == 1 else None)
    where = f"Task {task.name!r}: `carve`"
    if source not in files:
        raise ConfigError(f"{where} needs `from:` naming one of its files {sorted(files)}.")
    shares = [v for k, v in carve.items() if k in ("validation", "test") and isinstance(v, (int, float))]
    if not shares or len(shares) != len(carve) or min(shares) <= 0 or sum(shares) >= 1:
        raise ConfigError(
            f"{where} {spec['carve']!r}: give shares of `validation`/`test` above 0 summing below 1 "
            "(the rest becomes `train`), e.g. {test: 0.2}."
        )
    clash = sorted(k for k in ("train", *carve) if k in files and k != source)
    if clash:
        raise ConfigError(f"{where}: split {clash[0]!r} has its own file; carve only splits a file lacks.")
    start = 1.0 - sum(shares)  # train takes [0, start), then validation and test in this order
    bounds = {"train": [0.0, start]}
    for name in ("validation", "test"):
        if name in carve:
            bounds[name] = [start, start + float(carve[name])]
            start += float(carve[name])
    list(bounds.values())[-1][1] = 1.0  # no row lost to rounding at the top
    if split not in bounds:
        return None  # a split with its own file
    lo, hi = bounds[split]
    return source, lambda raw: lo <= _carve_share(raw) < hi


def read_local(task: Task, spec: dict, split: str, skip_bad_lines: bool | None = None) -> list[dict]:
    """All examples of one split of a local-file source (DataError on bad lines unless skipping)."""
    files = spec.get("files") or {}
    carved = _carve(task, spec, split) if spec.get("carve") else None
    if split not in files and carved is None:
        raise ConfigError(
            f"Task {task.name!r}: its local source has no file for split {split!r} (has {sorted(files)})."
        )
    path = _resolve(spec, files[carved[0] if carved else split])
    fmt = spec.get("format") or {".jsonl": "jsonl", ".csv": "csv", ".tsv": "tsv"}.get(
        path.suffix, "label_text"
    )
    if fmt not in FORMATS:
        raise ConfigError(f"Task {task.name!r}: unknown local format {fmt!r}; use one of {FORMATS}")
    if not path.is_file():
        raise DataError(f"Task {task.name!r}: file not found: {path}. Check the path in the task's source.")
    skip = spec.get("skip_bad_lines", False) if skip_bad_lines is None else skip_bad_lines
    mapper, out, bad = RecordMapper(task, spec), [], 0
    try:
        for lineno, raw in _raw_rows(path, fmt, spec):
            try:
                if isinstance(raw, str):
                    raise ValueError(raw)
                if carved is None or carved[1](raw):
                    out.append(mapper(raw))
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                if not skip:
                    raise DataError(
                        f"{path}:{lineno}: malformed line for task {task.name!r}: {exc}. Fix the line, or skip "
                        "bad lines (skip_bad_lines: true in the source, --skip-bad-lines on the CLI)."
                    ) from None
                bad += 1
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not readable as {spec.get('encoding', 'utf-8')} ({exc.reason}); set `encoding`."
        ) from None
    if bad:
        log.warning("%s: skipped %d malformed line(s) for task %s", path, bad, task.name)
    if not out:
        raise DataError(
            f"{path}: no usable examples for task {task.name!r} (the file is empty or every line was bad)."
        )
    return out


def read_hf(task: Task, spec: dict, split: str, skip_bad_lines: bool | None = None) -> list[dict]:
    """All examples of one split of a Hugging Face dataset (OfflineError when it cannot be fetched)."""
    hf_split = (spec.get("splits") or {}).get(split, split)
    name = spec["dataset"] + (f"/{spec['config']}" if spec.get("config") else "")
    try:
        import datasets

        ds = datasets.load_dataset(spec["dataset"], spec.get("config"), split=hf_split)
    except Exception as exc:  # network, hub and cache errors all mean: not available here
        raise OfflineError(
            f"Task {task.name!r}: cannot load Hugging Face dataset {name} split {hf_split!r} "
            f"({type(exc).__name__}: {str(exc)[:200]}). Connect to the network, or declare a local-file "
            "source for this task (see flankit.data.sources)."
        ) from None
    mapper, out = RecordMapper(task, spec), []
    skip = spec.get("skip_bad_lines", False) if skip_bad_lines is None else skip_bad_lines
    for i, raw in enumerate(ds):
        try:
            out.append(mapper(raw))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            if skip:
                continue
            raise DataError(
                f"{name} [{hf_split}] row {i}: {exc} (task {task.name!r}); fix the field mapping."
            ) from None
    if not out:
        raise DataError(f"{name} [{hf_split}] has no examples for task {task.name!r}.")
    return out


_ROWS: dict[tuple, list[dict]] = {}


def _cached_rows(task: Task, split: str, skip_bad_lines: bool | None) -> list[dict]:
    # Keyed by object identity too, so re-registering a task (new file) re-reads its rows.
    key = (task.name, id(task), split, skip_bad_lines)
    if key not in _ROWS:
        spec = task.sources[0]
        _ROWS[key] = (
            read_local(task, spec, split, skip_bad_lines)
            if spec["type"] == "local"
            else read_hf(task, spec, split, skip_bad_lines)
        )
    return _ROWS[key]


def iter_examples(task: Task, split: str, seed: int, skip_bad_lines: bool | None = None) -> Iterator[dict]:
    """Examples of `task`'s split: an endless stream for builtin tasks, one shuffled pass otherwise."""
    spec = task.sources[0]
    kind = spec.get("type")
    if kind == "builtin":
        from flankit.data import builtin

        yield from builtin.generate(spec.get("generator", task.name), split, seed, task.inputs)
        return
    if kind not in ("local", "hf"):
        raise ConfigError(f"Task {task.name!r}: unknown source type {kind!r}; use builtin, local or hf.")
    rows = _cached_rows(task, split, skip_bad_lines)
    order = list(range(len(rows)))
    random.Random(f"{task.name}/{split}/{seed}").shuffle(order)
    for i in order:
        yield rows[i]
