"""What the harness evaluates: one `EvalSpec` per task, from the data catalog or from a file.

A spec says how a task is scored (kind, metrics, filters), which templates it has (and which
are held out from training), and how to get evaluation items for a grid cell
(template, shots, CoT). Two sources:

- builtin/catalog tasks via `flankit.data` (tasks, templates, evalsets; see CONTRACTS.md);
- evaluation files in their original formats via `flankit.evaluation.readers`:
  `bbh` (every file of a BIG-Bench Hard folder), `bbh:NAME` (one task), `gsm8k`, or any task
  name with `--data FILE`. A file has one phrasing, the template `original`, which is
  evaluated under every template selection. Few-shot exemplars come from the format's train
  file next to the data (GSM8K `train.jsonl`); formats without one run zero-shot only.

Files are found under `--data` (a file or folder) or else the folder in the environment
variable FLANKIT_EVAL_DATA (holding `bbh/` and `gsm8k/`). `bbh*` and `gsm8k` always mean the
original files (GSM8K as the paper scores it), even though the catalog also has a hub `gsm8k`.
A catalog task with `--data FILE` is read in that task's own format (`catalog.spec_on_file`).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from flankit.errors import DataError, UnknownNameError
from flankit.evaluation import readers
from flankit.registry import suggest

# Zero-shot chain-of-thought cue for file tasks, which carry no CoT template (Kojima et al. 2022).
COT_CUE = "\nLet's think step by step, and end with 'So the answer is X.'"
FILE_TEMPLATE = "original"


@dataclass
class EvalSpec:
    """How to evaluate one task.

    Attributes:
        name: task name as reported.
        cluster: task cluster (for leave-one-cluster-out).
        version: task version, stored in results.json.
        kind: "classification" (rank classification over options) or "generation".
        metrics: metric names; the first is the primary one (robustness, plots).
        filters: answer-extraction filters applied to generations before scoring.
        templates: template id -> held out from training?, for prompts without CoT.
        cot_templates: the same for chain-of-thought prompts (empty: no CoT for this task).
        load: (template, shots, cot, limit, seed) -> items, or None when the cell is unsupported.
        source: where the items come from (catalog, or a file path).
    """

    name: str
    cluster: str
    version: int
    kind: str
    metrics: list[str]
    filters: list[str]
    templates: dict[str, bool]
    cot_templates: dict[str, bool]
    load: Callable[[str, int, bool, int | None, int], list[dict] | None]
    source: str = "catalog"


def _data_root(data: str | None) -> Path | None:
    root = data or os.environ.get("FLANKIT_EVAL_DATA")
    return Path(root) if root else None


def _file_loader(items: list[dict], pool: list[dict] | None) -> Callable:
    def load(template: str, shots: int, cot: bool, limit: int | None, seed: int) -> list[dict] | None:
        if shots and not pool:
            return None
        rng = random.Random(seed)
        out = []
        for item in items[:limit] if limit is not None else items:
            prompt = item["inputs"]
            if shots:
                demos = rng.sample(pool, min(shots, len(pool)))
                prompt = "".join(f"{d['inputs']}\n{d['targets']}\n\n" for d in demos) + prompt
            out.append({**item, "inputs": prompt + (COT_CUE if cot else "")})
        return out

    return load


def file_spec(name: str, path: str | Path, fmt: str | None = None, cluster: str = "external") -> EvalSpec:
    """An `EvalSpec` for an evaluation file in format `fmt` (guessed from the name when None)."""
    path = Path(path)
    fmt_name = fmt or readers.guess_format(path)
    spec_fmt = readers.formats.get(fmt_name)
    items = readers.read_file(path, fmt_name)
    train = path.parent / spec_fmt.train_file if spec_fmt.train_file else None
    pool = readers.read_file(train, fmt_name) if train and train.is_file() and train != path else None
    kind = "classification" if all(it["options"] for it in items) else "generation"
    return EvalSpec(
        name=name,
        cluster=cluster,
        version=1,
        kind=kind,
        metrics=list(spec_fmt.metrics),
        filters=list(spec_fmt.filters),
        templates={FILE_TEMPLATE: False},
        cot_templates={FILE_TEMPLATE: False},
        load=_file_loader([{**it, "task": name} for it in items], pool),
        source=str(path),
    )


def _bbh_specs(name: str, root: Path | None) -> list[EvalSpec]:
    if root is not None and root.is_file():
        return [file_spec(name, root, "bbh", cluster="bbh")]
    folder = root / "bbh" if root is not None and (root / "bbh").is_dir() else root
    if folder is None or not folder.is_dir():
        raise DataError(
            f"Task {name!r} needs the BIG-Bench Hard JSON files: pass --data FOLDER (or FILE), or set "
            "FLANKIT_EVAL_DATA to a folder holding bbh/."
        )
    files = sorted(folder.glob("*.json"))
    if name != "bbh":
        wanted = name.split(":", 1)[1]
        stems = [f.stem for f in files]
        if wanted not in stems:
            raise UnknownNameError(
                f"Unknown BBH task {wanted!r}.{suggest(wanted, stems)} Known: {', '.join(stems)}."
            )
        files = [folder / f"{wanted}.json"]
    if not files:
        raise DataError(f"No BIG-Bench Hard *.json files in {folder}.")
    return [file_spec(f"bbh:{f.stem}", f, "bbh", cluster="bbh") for f in files]


def _gsm8k_spec(root: Path | None) -> EvalSpec:
    path = root
    if root is not None and root.is_dir():
        path = root / "gsm8k" / "test.jsonl" if (root / "gsm8k").is_dir() else root / "test.jsonl"
    if path is None or not path.is_file():
        raise DataError(
            "Task 'gsm8k' needs GSM8K's test.jsonl: pass --data FILE, or set FLANKIT_EVAL_DATA to a folder "
            "holding gsm8k/test.jsonl."
        )
    return file_spec("gsm8k", path, "gsm8k", cluster="math")


def resolve(names: Sequence[str], *, data: str | None = None) -> list[EvalSpec]:
    """Specs for task names: catalog tasks, `bbh`, `bbh:NAME`, `gsm8k`; with `data` a FILE,
    a single non-file task name is evaluated on that file (format from its name).

    Raises:
        UnknownNameError: a name is neither a catalog task nor a file task (with a suggestion).
        DataError: a file is missing, empty or in the wrong format.
    """
    from flankit.evaluation import catalog

    root = _data_root(data)
    if not names:
        raise UnknownNameError("No tasks given. Pass --tasks NAME[,NAME] or --mixture NAME.")
    specs: list[EvalSpec] = []
    for name in names:
        if name == "bbh" or name.startswith("bbh:"):
            specs.extend(_bbh_specs(name, root))
        elif name == "gsm8k":
            specs.append(_gsm8k_spec(root))
        elif data is not None and Path(data).is_file():
            specs.append(catalog.spec_on_file(name, Path(data)))
        else:
            specs.append(catalog.spec(name, extra_names=["bbh", "bbh:NAME", "gsm8k"]))
    return specs
