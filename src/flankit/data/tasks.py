"""Task specs: what a task's examples look like and where they come from.

Tasks are declared as YAML in `catalog/tasks/*.yaml` (builtin generators and Hugging Face
datasets) or in a user's own YAML file loaded with `load_task_file` (e.g. local files).
Each task names its cluster, version, input and target fields, answer options (a fixed label
set or per-example `options`), metrics, sources, splits, the template group that phrases it
and the few-shot pattern family. `Task.examples` streams raw examples (field -> value).

    >>> from flankit.data.tasks import get_task
    >>> next(get_task("sentiment").examples("train"))["label"] in ("positive", "negative")
    True
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from flankit.errors import ConfigError
from flankit.registry import Registry, suggest

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"
SPLITS = ("train", "validation", "test")
KINDS = ("classification", "generation")


@dataclasses.dataclass
class Task:
    """One task: fields, answers, metrics, sources and how it is phrased.

    Attributes:
        name: unique task name.
        cluster: task cluster (used to hold out whole clusters).
        version: bumped whenever the examples or fields change.
        kind: "classification" (answers from a label set or per-example options) or "generation".
        inputs: names of the input fields.
        target: name of the target field.
        options: fixed label set (natural-language labels), or None.
        options_field: name of the per-example options field ("options"), or None.
        metrics: metric names in flankit.evaluation.metrics.
        sources: source specs; the first is used (see flankit.data.sources).
        splits: the splits this task provides.
        has_rationale: examples carry a "rationale" field usable for chain-of-thought.
        family: few-shot pattern family ("classification", "qa", "generation", "reasoning").
        templates: template group phrasing this task (default: the task name).
        size: (nominal) number of training examples, used by examples-proportional mixing.
        description: one line for humans.
    """

    name: str
    cluster: str
    version: int
    kind: str
    inputs: list[str]
    target: str
    options: list[str] | None = None
    options_field: str | None = None
    metrics: list[str] = dataclasses.field(default_factory=lambda: ["exact_match"])
    sources: list[dict] = dataclasses.field(default_factory=list)
    splits: list[str] = dataclasses.field(default_factory=lambda: list(SPLITS))
    has_rationale: bool = False
    family: str = "generation"
    templates: str = ""
    size: int = 10_000
    description: str = ""

    def __post_init__(self) -> None:
        where = f"task {self.name!r}"
        if self.kind not in KINDS:
            raise ConfigError(f"{where}: kind must be one of {KINDS}, got {self.kind!r}")
        if not self.sources:
            raise ConfigError(f"{where}: declare at least one source (builtin, local or hf)")
        bad = [s for s in self.splits if s not in SPLITS]
        if bad:
            raise ConfigError(f"{where}: unknown split(s) {bad}; use {SPLITS}")
        if self.kind == "classification" and not (self.options or self.options_field):
            raise ConfigError(f"{where}: a classification task needs `options` or `options_field`")
        self.templates = self.templates or self.name

    @property
    def source_type(self) -> str:
        """ "builtin", "local" or "hf" (the type of the first source)."""
        return self.sources[0]["type"]

    @property
    def fields(self) -> list[str]:
        """Every field an example of this task carries."""
        extra = [f for f in (self.options_field, "rationale" if self.has_rationale else None) if f]
        return [*self.inputs, self.target, *extra]

    def examples(
        self,
        split: str = "train",
        seed: int = 0,
        limit: int | None = None,
        *,
        skip_bad_lines: bool | None = None,
    ) -> Iterator[dict]:
        """Raw examples of one split.

        Builtin tasks stream without end (use `limit`); file and hub tasks yield their split
        once, shuffled by `seed`. Per-example options are under "options".

        Args:
            split: "train", "validation" or "test".
            seed: stream / shuffle seed.
            limit: stop after this many examples.
            skip_bad_lines: skip malformed lines of local files instead of raising (default:
                the source's `skip_bad_lines` setting).
        """
        from flankit.data import sources

        if split not in self.splits:
            raise ConfigError(f"Task {self.name!r} has no {split!r} split; it has {self.splits}.")
        it = sources.iter_examples(self, split, seed, skip_bad_lines)
        return itertools.islice(it, limit) if limit is not None else it


TASKS: Registry[Task] = Registry("task")
_loaded = False
_FIELDS = {f.name for f in dataclasses.fields(Task)}


def task_from_dict(raw: dict[str, Any], base_dir: Path | None = None) -> Task:
    """Build a Task from one YAML mapping; relative local paths resolve against `base_dir`."""
    if not isinstance(raw, dict) or "name" not in raw:
        raise ConfigError(f"A task entry must be a mapping with a `name`, got {raw!r}")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise ConfigError(
            f"task {raw['name']!r}: unknown key {unknown[0]!r}.{suggest(unknown[0], sorted(_FIELDS))}"
        )
    data = dict(raw)
    srcs = data.get("sources") or []
    data["sources"] = [dict(s, _base_dir=str(base_dir)) if base_dir else dict(s) for s in srcs]
    try:
        return Task(**data)
    except TypeError as exc:
        raise ConfigError(f"task {raw['name']!r}: {exc}") from None


def _read_task_yaml(path: Path) -> list[Task]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Cannot read task file {path}: {exc}") from None
    entries = doc.get("tasks") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected a top-level `tasks:` list")
    return [task_from_dict(e, path.parent) for e in entries]


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for path in sorted((CATALOG_DIR / "tasks").glob("*.yaml")):
        for task in _read_task_yaml(path):
            TASKS.add(task.name, task)


def load_task_file(path: str | Path) -> list[Task]:
    """Register the tasks of a user YAML file (`tasks:` list); re-loading replaces them."""
    _ensure_loaded()
    tasks = _read_task_yaml(Path(path).expanduser().resolve())
    for task in tasks:
        TASKS.add(task.name, task, overwrite=True)
    return tasks


def get_task(name: str) -> Task:
    """The registered task `name` (UnknownNameError with a suggestion if unknown)."""
    _ensure_loaded()
    return TASKS.get(name)


def list_tasks(include_online: bool = True) -> list[Task]:
    """All registered tasks sorted by name; without hub (`hf`) tasks unless `include_online`."""
    _ensure_loaded()
    tasks = [TASKS.get(n) for n in TASKS.names()]
    return tasks if include_online else [t for t in tasks if t.source_type != "hf"]


def builtin_tasks() -> list[Task]:
    """The offline tasks generated by flankit's own code."""
    return [t for t in list_tasks() if t.source_type == "builtin"]
