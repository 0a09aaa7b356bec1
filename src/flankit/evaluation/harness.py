"""The evaluation grid: tasks x templates x shots (x CoT), scored with bootstrap errors.

    from flankit.evaluation.harness import EvalConfig, evaluate
    results = evaluate(engine, EvalConfig(tasks=["bbh:navigate"], data="bbh/", shots=[0]))

Every cell (task, template, shots, cot) gets its items from the task's `EvalSpec`
(`flankit.evaluation.specs`). Classification tasks with options, outside CoT, use rank
classification (`model.classify`): the answer is the option with the highest mean
log-likelihood, so the model cannot answer off the label set. Generation tasks and CoT use
`model.generate`, then the task's filters (e.g. "So the answer is X", GSM8K `#### N`,
first option mentioned), then the task's metrics. Each metric gets a seeded bootstrap
standard error. Held-out protocols: `heldout_cluster` keeps only that cluster's tasks
(leave-one-cluster-out: train without it, evaluate only on it); `templates` picks seen,
held-out or all templates.

The model is anything with the engine's `generate` / `classify` (the `Model` protocol), so
tests use fake models and the CLI passes an `Engine`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from flankit.config import field
from flankit.errors import ConfigError, DataError
from flankit.evaluation import metrics as M
from flankit.evaluation import robustness
from flankit.evaluation.specs import FILE_TEMPLATE, EvalSpec, resolve

TEMPLATE_SETS = ("seen", "heldout", "all")
SAMPLES_PER_CELL = 3  # predictions kept in results.json per cell, for eyeballing


class Model(Protocol):
    """What the harness needs from a model (the inference `Engine` satisfies it)."""

    def generate(self, prompts: list[str], config: Any = None, **overrides: Any) -> list[Any]: ...

    def classify(
        self, prompts: list[str], options: list[list[str]], normalize: str = "mean", **kwargs: Any
    ) -> list[Any]: ...


@dataclass
class EvalConfig:
    """What to evaluate; saved into results.json."""

    tasks: list[str] = field(default_factory=list, help="task names: catalog tasks, bbh, bbh:NAME, gsm8k")
    templates: str = field("all", help="seen | heldout | all (held out = never used in training)")
    shots: list[int] = field(default_factory=lambda: [0], help="numbers of few-shot exemplars")
    cot: bool = field(False, help="also evaluate chain-of-thought prompts (generation + answer filters)")
    limit: int | None = field(None, help="at most this many items per cell")
    seed: int = field(0, help="seed for exemplar choice and bootstrap")
    heldout_cluster: str | None = field(None, help="evaluate only this cluster's tasks (leave-one-out)")
    data: str | None = field(None, help="evaluation FILE or folder (bbh/, gsm8k/)")
    batch_size: int = field(16, help="prompts per model call")
    n_boot: int = field(1000, help="bootstrap resamples for standard errors")
    max_new_tokens: int = field(64, help="generation budget without CoT")
    cot_max_new_tokens: int = field(256, help="generation budget with CoT")
    truncate: bool = field(
        False, help="let the engine cut over-long prompts instead of stopping with an error"
    )


@dataclass
class Cell:
    """One grid cell and its items (prompts in `items[i]['inputs']`)."""

    spec: EvalSpec
    template: str
    heldout: bool
    shots: int
    cot: bool
    items: list[dict]

    @property
    def mode(self) -> str:
        classify = self.spec.kind == "classification" and not self.cot
        return "classify" if classify and all(it.get("options") for it in self.items) else "generate"


def _check(config: EvalConfig) -> None:
    if config.templates not in TEMPLATE_SETS:
        raise ConfigError(f"--templates must be one of {', '.join(TEMPLATE_SETS)}, not {config.templates!r}.")
    if not config.shots or any(s < 0 for s in config.shots):
        raise ConfigError(f"--shots must list non-negative numbers (e.g. 0,3), not {config.shots!r}.")
    if config.limit is not None and config.limit < 1:
        raise ConfigError("--limit must be at least 1.")


def _wanted(heldout: bool, selection: str, is_file: bool) -> bool:
    # A file has one phrasing; it is evaluated whatever the selection.
    return is_file or selection == "all" or heldout == (selection == "heldout")


def build_cells(config: EvalConfig, specs: Sequence[EvalSpec] | None = None) -> tuple[list[Cell], list[dict]]:
    """The grid's cells with their items, and the cells skipped (with the reason).

    Raises:
        ConfigError: bad template selection, shots or limit.
        UnknownNameError: unknown task or metric.
        DataError: the grid is empty (e.g. no task in the held-out cluster, no held-out templates).
    """
    _check(config)
    if specs is None:
        names = config.tasks
        if not names and config.heldout_cluster is not None:
            from flankit.evaluation.catalog import cluster_tasks

            names = cluster_tasks(config.heldout_cluster)
        specs = resolve(names, data=config.data)
    specs = list(specs)
    if config.heldout_cluster is not None:
        clusters = sorted({s.cluster for s in specs})
        specs = [s for s in specs if s.cluster == config.heldout_cluster]
        if not specs:
            raise DataError(
                f"No task in cluster {config.heldout_cluster!r} among the tasks given (clusters: "
                f"{', '.join(clusters)}). Pass tasks of the held-out cluster."
            )
    cells, skipped = [], []
    for spec in specs:
        for name in spec.metrics:
            M.metrics.get(name)  # fail early on a misspelt metric in a task spec
        is_file = set(spec.templates) == {FILE_TEMPLATE}
        for cot in [False, True] if config.cot else [False]:
            for template, heldout in (spec.cot_templates if cot else spec.templates).items():
                if not _wanted(heldout, config.templates, is_file):
                    continue
                for shots in config.shots:
                    items = spec.load(template, shots, cot, config.limit, config.seed)
                    where = {"task": spec.name, "template": template, "shots": shots, "cot": cot}
                    if items is None:
                        skipped.append({**where, "reason": "not supported by this task/template"})
                    elif not items:
                        raise DataError(
                            f"No evaluation items for {where}. Check the task's data and --limit."
                        )
                    else:
                        cells.append(Cell(spec, template, heldout, shots, cot, items))
    if not cells:
        raise DataError(
            f"Nothing to evaluate: no cell matches templates={config.templates!r}, shots={config.shots}, "
            f"cot={config.cot} for tasks {', '.join(s.name for s in specs)}."
        )
    return cells, skipped


def _batches(seq: list, size: int):
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def predict(model: Model, cell: Cell, config: EvalConfig, advance: Callable[[int], None]) -> list[str]:
    """The model's answers for a cell's items, after the task's filters when generating."""
    preds: list[str] = []
    budget = config.cot_max_new_tokens if cell.cot else config.max_new_tokens
    filters = list(cell.spec.filters)
    if cell.cot and "answer_is" not in filters:
        filters.insert(0, "answer_is")  # CoT answers end with "So the answer is X."
    # Only pass `truncate` when asked, so minimal models (fakes, other engines) need not take it.
    extra = {"truncate": True} if config.truncate else {}
    for batch in _batches(cell.items, config.batch_size):
        prompts = [it["inputs"] for it in batch]
        if cell.mode == "classify":
            choices = model.classify(prompts, [list(it["options"]) for it in batch], **extra)
            preds.extend(str(c.choice) for c in choices)
        else:
            outs = model.generate(prompts, max_new_tokens=budget, **extra)
            preds.extend(
                M.apply_filters(filters, str(o), it.get("options")) for o, it in zip(outs, batch, strict=True)
            )
        advance(len(batch))
    return preds


def reference(item: dict, cot: bool) -> str:
    """What a prediction is scored against.

    With options shown (outside CoT) the model answers with one of the rendered options, and
    the rendered target is the right one: with lettered option styles it is the marked line
    "(B) maybe", not the bare label text. Otherwise the canonical answer (for CoT, what "So the answer is X" names;
    for GSM8K, the number rather than the worked solution).
    """
    return item["targets"] if item.get("options") and not cot else item["answer"]


def score_cell(cell: Cell, preds: list[str], config: EvalConfig) -> dict:
    """Scores, bootstrap standard errors and a few sample predictions for one cell."""
    refs = [reference(it, cell.cot) for it in cell.items]
    scores = {m: M.compute(m, preds, refs) for m in cell.spec.metrics}
    stderr = {
        m: M.bootstrap_stderr(m, preds, refs, n_boot=config.n_boot, seed=config.seed)
        for m in cell.spec.metrics
    }
    samples = [
        {"prompt": it["inputs"][-300:], "prediction": p, "reference": r}
        for it, p, r in zip(cell.items[:SAMPLES_PER_CELL], preds, refs, strict=False)
    ]
    return {
        "task": cell.spec.name,
        "cluster": cell.spec.cluster,
        "template": cell.template,
        "heldout": cell.heldout,
        "shots": cell.shots,
        "cot": cell.cot,
        "mode": cell.mode,
        "n": len(preds),
        "metric": cell.spec.metrics[0],
        "scores": scores,
        "stderr": stderr,
        "samples": samples,
    }


def _by(cells: list[dict], keep: Callable[[dict], bool]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for c in cells:
        if keep(c):
            out.setdefault(c["task"], {})[f"{c['template']}|{c['shots']}|{c['cot']}"] = c["scores"][
                c["metric"]
            ]
    return out


def summarize_cells(cells: list[dict]) -> dict:
    """Per (task, shots, cot) robustness over templates, and the zero/few-shot and seen/held-out gaps."""
    groups: dict[tuple, dict[str, float]] = {}
    for c in cells:
        groups.setdefault((c["task"], c["shots"], c["cot"], c["metric"]), {})[c["template"]] = c["scores"][
            c["metric"]
        ]
    shots = sorted({c["shots"] for c in cells})
    return {
        "robustness": [
            {
                "task": task,
                "shots": n,
                "cot": cot,
                "metric": metric,
                **robustness.summarize(scores, scale=M.metrics.get(metric).scale),
            }
            for (task, n, cot, metric), scores in groups.items()
        ],
        "shot_gap": robustness.shot_gap(
            _by(cells, lambda c: c["shots"] == 0),
            _by(cells, lambda c: c["shots"] == shots[-1] and c["shots"] > 0),
        ),
        "template_gap": robustness.template_gap(
            _by(cells, lambda c: not c["heldout"]), _by(cells, lambda c: c["heldout"])
        ),
    }


def evaluate(
    model: Model,
    config: EvalConfig,
    *,
    specs: Sequence[EvalSpec] | None = None,
    grid: tuple[list[Cell], list[dict]] | None = None,
    model_name: str = "model",
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Run the grid and return the results document (what `report.write_results` saves).

    Args:
        model: anything with `generate` and `classify` like the inference Engine.
        config: the grid.
        specs: evaluate these specs instead of resolving `config.tasks`.
        grid: the (cells, skipped) of an earlier `build_cells(config)`, to not build them twice.
        model_name: recorded in the results.
        progress: called as progress(done_items, total_items) after each model call.
    """
    cells, skipped = grid if grid is not None else build_cells(config, specs)
    total, done = sum(len(c.items) for c in cells), 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    scored = [score_cell(cell, predict(model, cell, config, advance), config) for cell in cells]
    tasks = {
        c.spec.name: {
            "version": c.spec.version,
            "cluster": c.spec.cluster,
            "kind": c.spec.kind,
            "metrics": c.spec.metrics,
            "source": c.spec.source,
        }
        for c in cells
    }
    return {
        "model": model_name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": config.seed,
        "config": asdict(config),
        "tasks": tasks,
        "cells": scored,
        "skipped": skipped,
        **summarize_cells(scored),
    }
