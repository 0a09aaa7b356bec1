"""Evaluation specs for the data catalog's tasks (builtin and YAML), via `flankit.data`.

Uses only the data contract (CONTRACTS.md): `tasks.get_task`, `tasks.list_tasks`,
`templates.templates_for`, `evalsets.eval_examples`, `mixture.load_mixture`. Template
selection: without CoT the grid uses a task's `zero_shot` templates (inverse templates ask a
different question, so they are training-only); with CoT its `cot` templates, and only for
tasks whose examples carry rationales. Held-out flags come from the templates.
"""

from __future__ import annotations

from pathlib import Path

from flankit.errors import UnknownNameError
from flankit.evaluation.specs import EvalSpec


def _split(task) -> str:
    splits = list(getattr(task, "splits", None) or [])
    return (
        "test" if not splits or "test" in splits else ("validation" if "validation" in splits else splits[-1])
    )


def _filters(task) -> list[str]:
    # Generations go through "So the answer is X" (CoT) and, for option tasks, the option mentioned.
    return ["answer_is", "first_option"] if task.kind == "classification" else ["answer_is"]


def spec(name: str, extra_names: list[str] | None = None) -> EvalSpec:
    """The `EvalSpec` of catalog task `name`.

    Raises:
        UnknownNameError: no such task; the message suggests the closest catalog or file task.
    """
    from flankit.data.evalsets import eval_examples
    from flankit.data.tasks import get_task, list_tasks
    from flankit.data.templates import templates_for
    from flankit.registry import suggest

    try:
        task = get_task(name)
    except UnknownNameError:
        known = sorted(t.name for t in list_tasks()) + list(extra_names or [])
        raise UnknownNameError(
            f"Unknown task {name!r}.{suggest(name, known)} Known: {', '.join(known)}."
        ) from None
    templates = templates_for(task.name)
    by_kind = {
        False: {t.id: bool(t.heldout) for t in templates if t.kind == "zero_shot"},
        True: {t.id: bool(t.heldout) for t in templates if t.kind == "cot"},
    }
    split = _split(task)

    def load(template: str, shots: int, cot: bool, limit: int | None, seed: int) -> list[dict] | None:
        return eval_examples(
            task.name, template, split=split, shots=shots, cot=cot, with_options=True, limit=limit, seed=seed
        )

    return EvalSpec(
        name=task.name,
        cluster=task.cluster,
        version=int(task.version),
        kind=task.kind,
        metrics=list(task.metrics),
        filters=_filters(task),
        templates=by_kind[False],
        cot_templates=by_kind[True] if task.has_rationale else {},
        load=load,
        source="catalog",
    )


def _file_rows(task, path: Path) -> list[dict]:
    """Raw examples of `task` read from `path` with the task's own local-source settings (field
    mapping, label map, format) when it has a local source, else one column per task field."""
    import dataclasses

    from flankit.data.sources import read_local
    from flankit.errors import DataError

    base = task.sources[0]
    # A local source keeps all its settings; a hub source keeps the ones about values, not columns
    # (its column names are the hub's), so e.g. SST-2's `LABEL text` file maps 0/1 to its labels.
    keep = None if base["type"] == "local" else ("label_map", "hook", "constants")
    # a user-given file is evaluated whole: drop the split carving meant for the catalog file
    src = {
        k: v
        for k, v in base.items()
        if k not in ("files", "_base_dir", "carve") and (keep is None or k in keep)
    }
    src.update(type="local", files={"test": str(path.resolve())})
    local = dataclasses.replace(task, sources=[src], splits=["test"])
    try:
        return read_local(local, src, "test")
    except DataError as exc:
        fmt = src.get("format") or {".jsonl": "jsonl", ".csv": "csv", ".tsv": "tsv"}.get(
            path.suffix, "`LABEL text`"
        )
        raise DataError(
            f"{exc} Expected a {fmt} file with the fields of task {task.name!r}: "
            f"{', '.join(src.get('fields') or task.fields)}."
        ) from None


def spec_on_file(name: str, path: Path) -> EvalSpec:
    """Task `name` on a local file in that task's format, phrased by each of its zero-shot templates.

    File formats of their own (`bbh`, `gsm8k`, `jsonl`) read the file as such. For a catalog
    task the items are rendered without an options block (the options still go to rank
    classification); few-shot cells are skipped, as exemplars belong to the task's train split.
    """
    from flankit.data.tasks import get_task
    from flankit.data.templates import get_template, render
    from flankit.evaluation.readers import formats
    from flankit.evaluation.specs import file_spec

    if name in formats:  # e.g. `--tasks jsonl --data mine.jsonl`: the file names the task
        return file_spec(path.stem if name == "jsonl" else name, path, name)
    out = spec(name)
    task = get_task(name)
    rows = _file_rows(task, path)

    def load(template: str, shots: int, cot: bool, limit: int | None, seed: int) -> list[dict] | None:
        if shots:
            return None
        tpl, items = get_template(name, template), []
        for ex in rows[:limit] if limit is not None else rows:
            inputs, targets, answer, shown = render(task, tpl, ex, None)
            if shown is None and task.kind == "classification" and not cot:
                shown = list(task.options or ex.get("options") or []) or None
            items.append(
                {
                    "inputs": inputs,
                    "targets": targets,
                    "answer": answer,
                    "options": shown,
                    "task": name,
                    "template": template,
                    "format": "file",
                }
            )
        return items

    out.load, out.source = load, str(path)
    return out


def cluster_tasks(cluster: str) -> list[str]:
    """Names of the offline catalog tasks in `cluster` (leave-one-cluster-out without --tasks)."""
    from flankit.data.tasks import list_tasks

    return [t.name for t in list_tasks(include_online=False) if t.cluster == cluster]


def mixture_tasks(name: str) -> list[str]:
    """Names of the tasks a mixture draws from (for `--mixture`)."""
    from flankit.data.mixture import load_mixture

    mix = load_mixture(name)
    for attr in ("task_names", "tasks"):
        value = getattr(mix, attr, None)
        value = value() if callable(value) else value
        if value:
            return [t if isinstance(t, str) else t.name for t in value]
    raise UnknownNameError(f"Mixture {name!r} lists no tasks; pass --tasks instead.")
