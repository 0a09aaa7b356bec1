"""Mixtures: which tasks, how often, in which formats; a deterministic streaming sampler.

A mixture is YAML in `catalog/mixtures/` (or any path):

    name: builtin
    tasks: builtin                 # a list of task names, or "builtin" for every builtin task
    cap: 30000                     # examples-proportional rate uses min(size, cap) ...
    temperature: 1.0               # ... raised to 1/temperature, then times `weights`
    weights: {arithmetic: 2.0}
    formats: {zs_opt: 0.3, zs_noopt: 0.2, fs_opt: 0.15, fs_noopt: 0.15, cot: 0.1, fs_cot: 0.1}
    few_shot: {max_shots: 3, token_budget: 250, pool_size: 32}
    heldout: {clusters: [], tasks: [], templates: true}   # true: skip templates marked heldout;
                                                          # a list: skip these ids; false: keep all
    submixtures: [{mixture: other, weight: 0.4}, {name: inline, tasks: [...], weight: 0.6}]

Formats: zero-shot or few-shot, with options (classification tasks) or without, and
chain-of-thought (tasks with rationales), zero- or few-shot. Formats a task cannot take are
dropped for that task and the rest renormalised. Few-shot exemplars come only from the same
task's training split (a bounded pool of recent training examples, never the example itself)
and fit a whitespace-word budget. The sampler keeps O(tasks) state, so memory does not grow
with the number of examples; the same spec and seed give the same records.

References: Wei et al. 2021 (FLAN, examples-proportional mixing with caps); Chung et al. 2022
and Longpre et al. 2023 (FLAN 2022 collection: submixture weights, format mixing).
"""

from __future__ import annotations

import bisect
import dataclasses
import random
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

from flankit.data.tasks import CATALOG_DIR, Task, builtin_tasks, get_task, load_task_file
from flankit.data.templates import fewshot_patterns, option_styles, render, templates_for
from flankit.errors import ConfigError, UnknownNameError
from flankit.registry import suggest

FORMATS = ("zs_opt", "zs_noopt", "fs_opt", "fs_noopt", "cot", "fs_cot")
DEFAULT_FORMATS = {
    "zs_opt": 0.3,
    "zs_noopt": 0.2,
    "fs_opt": 0.15,
    "fs_noopt": 0.15,
    "cot": 0.1,
    "fs_cot": 0.1,
}
_KEYS = {
    "name",
    "description",
    "tasks",
    "task_files",
    "cap",
    "temperature",
    "weights",
    "rate",
    "formats",
    "few_shot",
    "heldout",
    "submixtures",
    "weight",
    "mixture",
}
_WITH_OPTIONS = frozenset({"zs_opt", "fs_opt"})
# Which template kinds each format draws from.
_KIND_OF = {
    "zs_opt": ("zero_shot",),
    "fs_opt": ("zero_shot",),
    "zs_noopt": ("zero_shot", "inverse"),
    "fs_noopt": ("zero_shot", "inverse"),
    "cot": ("cot",),
    "fs_cot": ("cot",),
}


@dataclasses.dataclass
class Entry:
    """One task inside a (sub)mixture, with its share of the draws and its rendering settings."""

    task: Task
    rate: float
    formats: dict[str, float]
    templates: dict[str, list]
    max_shots: int
    token_budget: int
    pool_size: int


def _words(text: str) -> int:
    # Whitespace words approximate tokens well enough for a budget, at a fraction of the cost.
    return text.count(" ") + text.count("\n") + 1


class Mixture:
    """A flattened mixture: entries with normalised rates. Build it with `load_mixture`."""

    def __init__(
        self, name: str, entries: list[Entry], description: str = "", skip_bad_lines: bool | None = None
    ):
        self.name, self.entries, self.description = name, entries, description
        self.skip_bad_lines = skip_bad_lines
        total = sum(e.rate for e in entries)
        for e in entries:
            e.rate /= total

    @property
    def task_names(self) -> list[str]:
        """Names of the tasks drawn from (each once)."""
        return list(dict.fromkeys(e.task.name for e in self.entries))

    def rates(self) -> dict[str, float]:
        """Share of draws per task (summed over submixtures)."""
        out: dict[str, float] = {}
        for e in self.entries:
            out[e.task.name] = out.get(e.task.name, 0.0) + e.rate
        return out

    def sample(self, num_examples: int, seed: int = 0) -> Iterator[dict]:
        """Stream `num_examples` rendered records `{inputs, targets, task, cluster, template, format}`."""
        rng = random.Random(seed)
        rand = rng.random
        cum, acc = [], 0.0
        for e in self.entries:
            acc += e.rate
            cum.append(acc)
        states = [_EntryState(e, seed, j, self.skip_bad_lines) for j, e in enumerate(self.entries)]
        styles = option_styles()
        n_styles = len(styles)
        last = len(states) - 1
        for _ in range(num_examples):
            st = states[min(bisect.bisect(cum, rand() * acc), last)]
            fmt = st.formats[min(bisect.bisect(st.fcum, rand()), len(st.formats) - 1)]
            ex = st.next_example()
            tpls = st.templates[fmt]
            tpl = tpls[int(rand() * len(tpls))]
            style = styles[int(rand() * n_styles)] if fmt in _WITH_OPTIONS else None
            inputs, targets, _, _ = render(st.task, tpl, ex, style)
            if fmt[:3] == "fs_":
                inputs, fmt = st.few_shot(rng, tpl, style, ex, inputs, fmt)
            st.pool.append(ex)
            yield {
                "inputs": inputs,
                "targets": targets,
                "task": st.task.name,
                "cluster": st.task.cluster,
                "template": tpl.id,
                "format": fmt,
            }


class _EntryState:
    """Per-entry sampler state: the training stream and the few-shot exemplar pool (bounded)."""

    def __init__(self, entry: Entry, seed: int, index: int, skip_bad_lines: bool | None):
        self.task, self.entry, self.skip = entry.task, entry, skip_bad_lines
        self.formats = list(entry.formats)
        total, acc, self.fcum = sum(entry.formats.values()), 0.0, []
        for f in self.formats:
            acc += entry.formats[f] / total
            self.fcum.append(acc)
        self.templates = entry.templates
        self.base = (seed << 32) + (index << 16)
        self.epoch = 0
        self.stream = self.task.examples("train", seed=self.base, skip_bad_lines=skip_bad_lines)
        self.pool: deque = deque(maxlen=entry.pool_size)
        self.patterns = fewshot_patterns(self.task.family)

    def next_example(self) -> dict:
        for ex in self.stream:
            return ex
        # A finite source ran out: start another epoch in a new shuffled order.
        self.epoch += 1
        self.stream = self.task.examples("train", seed=self.base + 2 * self.epoch, skip_bad_lines=self.skip)
        return next(self.stream)

    def few_shot(self, rng: random.Random, tpl, style, ex: dict, inputs: str, fmt: str) -> tuple[str, str]:
        if not self.pool:  # exemplars come from a separate training stream, never from eval splits
            self.pool.extend(
                self.task.examples(
                    "train", seed=self.base + 1, limit=self.entry.pool_size, skip_bad_lines=self.skip
                )
            )
        pool = self.pool
        k = 1 + int(rng.random() * self.entry.max_shots)
        budget = self.entry.token_budget - _words(inputs)
        shots = []
        for i in rng.sample(range(len(pool)), min(k + 1, len(pool))):
            if len(shots) == k:
                break
            cand = pool[i]
            if cand is ex or cand == ex:
                continue
            s_in, s_out, _, _ = render(self.task, tpl, cand, style)
            cost = _words(s_in) + _words(s_out)
            if cost > budget:
                break
            budget -= cost
            shots.append((s_in, s_out))
        if not shots:  # nothing fits the budget: fall back to zero-shot
            return inputs, {"fs_opt": "zs_opt", "fs_noopt": "zs_noopt", "fs_cot": "cot"}[fmt]
        pattern = self.patterns[int(rng.random() * len(self.patterns))]
        return pattern.join(shots, inputs), fmt


def _mixture_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.is_file():
        if not p.is_file():
            raise ConfigError(f"Mixture file not found: {p}")
        return p
    path = CATALOG_DIR / "mixtures" / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(q.stem for q in path.parent.glob("*.yaml"))
        raise UnknownNameError(
            f"Unknown mixture {str(name_or_path)!r}.{suggest(str(name_or_path), known)} Known: {', '.join(known)}; "
            "or pass a path to a mixture YAML file."
        )
    return path


def _resolve_tasks(spec: dict, where: str) -> list[Task]:
    names = spec.get("tasks")
    if names in ("builtin", ["builtin"]):
        return builtin_tasks()
    if not isinstance(names, list) or not names:
        raise ConfigError(f"{where}: `tasks` must be a non-empty list of task names or 'builtin'")
    return [get_task(n) for n in names]


def _entries(spec: dict, where: str, base_dir: Path, heldout: dict) -> list[Entry]:
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}.{suggest(unknown[0], sorted(_KEYS))}")
    for f in spec.get("task_files") or []:
        load_task_file(base_dir / f)
    held = {
        k: list(heldout.get(k) or []) + list((spec.get("heldout") or {}).get(k) or [])
        for k in ("clusters", "tasks")
    }
    held_tpl = (spec.get("heldout") or {}).get("templates", heldout.get("templates", True))
    if spec.get("submixtures"):
        if spec.get("tasks"):
            raise ConfigError(f"{where}: give either `tasks` or `submixtures`, not both")
        out = []
        subs = spec["submixtures"]
        total = sum(float(s.get("weight", 1.0)) for s in subs)
        for i, sub in enumerate(subs):
            child_held = {**held, "templates": held_tpl}
            if "mixture" in sub:
                path = _mixture_path(sub["mixture"])
                child = _entries(_read(path), f"{where} > {sub['mixture']}", path.parent, child_held)
            else:
                child = _entries(
                    {k: v for k, v in sub.items() if k != "weight"}, f"{where} > #{i}", base_dir, child_held
                )
            share = float(sub.get("weight", 1.0)) / total
            norm = sum(e.rate for e in child)
            for e in child:
                e.rate = share * e.rate / norm
            out.extend(child)
        return out
    tasks = [
        t
        for t in _resolve_tasks(spec, where)
        if t.cluster not in held["clusters"] and t.name not in held["tasks"]
    ]
    if not tasks:
        raise ConfigError(f"{where}: every task is held out; nothing left to sample")
    cap, temp = spec.get("cap"), float(spec.get("temperature", 1.0))
    weights = spec.get("weights") or {}
    for name in weights:
        if name not in {t.name for t in tasks}:
            raise ConfigError(f"{where}: weight for {name!r}, which is not in the mixture")
    fmt_w = spec.get("formats") or DEFAULT_FORMATS
    bad = [f for f in fmt_w if f not in FORMATS]
    if bad:
        raise ConfigError(
            f"{where}: unknown format {bad[0]!r}.{suggest(bad[0], list(FORMATS))} Formats: {FORMATS}"
        )
    fs = {"max_shots": 3, "token_budget": 250, "pool_size": 32, **(spec.get("few_shot") or {})}
    out = []
    for t in tasks:
        size = min(t.size, cap) if cap else t.size
        rate = (1.0 if spec.get("rate") == "equal" else size ** (1.0 / temp)) * float(
            weights.get(t.name, 1.0)
        )
        tpls = [x for x in templates_for(t.name) if not _is_held(x, held_tpl)]
        by_fmt = {f: [x for x in tpls if x.kind in _KIND_OF[f]] for f in FORMATS}
        has_opts = bool(t.options or t.options_field)
        usable = {
            f: float(w)
            for f, w in fmt_w.items()
            if w > 0
            and by_fmt[f]
            and (has_opts or f not in _WITH_OPTIONS)
            and (fs["max_shots"] > 0 or f[:3] != "fs_")
        }
        if not usable:
            raise ConfigError(f"{where}: task {t.name!r} has no templates for formats {sorted(fmt_w)}")
        out.append(
            Entry(
                t,
                rate,
                usable,
                {f: by_fmt[f] for f in usable},
                int(fs["max_shots"]),
                int(fs["token_budget"]),
                int(fs["pool_size"]),
            )
        )
    return out


def _is_held(tpl, held_tpl) -> bool:
    return bool(tpl.heldout) if held_tpl is True else (isinstance(held_tpl, list) and tpl.id in held_tpl)


def _read(path: Path) -> dict:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Cannot read mixture {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: a mixture file must be a mapping")
    return doc


def load_mixture(name_or_yaml_path: str | Path, skip_bad_lines: bool | None = None) -> Mixture:
    """A catalog mixture by name (e.g. "builtin") or a mixture YAML file.

    Args:
        name_or_yaml_path: catalog name or path to a mixture YAML.
        skip_bad_lines: skip malformed lines of local-file tasks (default: each source's setting).
    """
    path = _mixture_path(name_or_yaml_path)
    spec = _read(path)
    entries = _entries(spec, f"mixture {spec.get('name', path.stem)!r}", path.parent, {})
    return Mixture(spec.get("name", path.stem), entries, spec.get("description", ""), skip_bad_lines)


def to_dataset(records: Iterable[dict]):
    """Mixture records (or any dicts with the same keys) as a `datasets.Dataset`."""
    import datasets

    return datasets.Dataset.from_list(list(records))


def corpus_text(num_examples: int, seed: int = 0) -> Iterator[str]:
    """Rendered inputs and targets of the `builtin` mixture, for training a tokenizer."""
    for rec in load_mixture("builtin").sample(num_examples, seed):
        yield rec["inputs"]
        yield rec["targets"]
