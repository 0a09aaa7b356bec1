"""Templates: zero-shot, inverse and chain-of-thought phrasings, answer options, few-shot patterns.

Template groups live in `catalog/templates/<group>.yaml` (wording written for flankit):

    group: sentiment
    zero_shot: ["Review: {text}\\nIs it positive or negative?", {input: "...", heldout: true}]
    inverse:   [{input: "Write a {label} review.", target: "{text}"}]
    cot:       ["{question}\\nLet's think step by step."]

A task uses the group named by its `templates` field. A zero-shot template's target defaults to
the task's target field; a CoT target is always the rationale followed by the fixed answer line
"So the answer is X." (`COT_ANSWER`). Templates are compiled once into `str.format` strings,
so rendering costs one `format_map` per side. Two derived fields exist: `{choices}` ("a, b or
c", the task's options inline) and `{options_block}` (where the options go; appended when a
template does not place it). `catalog/templates/_formats.yaml` holds the option styles (headers
and markers; lettered or numbered markers turn the target into the marker) and the few-shot
patterns of each task family (input/target prefixes, delimiter, separator between exemplars).
"""

from __future__ import annotations

import dataclasses
import functools
import string

import yaml

from flankit.data.tasks import CATALOG_DIR, Task, get_task
from flankit.errors import ConfigError
from flankit.registry import suggest

COT_ANSWER = "So the answer is {}."
KINDS = ("zero_shot", "inverse", "cot")
DERIVED = frozenset({"choices", "options_block"})
_SHORT = {"zero_shot": "zs", "inverse": "inv", "cot": "cot"}


class TemplateError(ConfigError):
    """A template uses a field the task or example does not have."""


@dataclasses.dataclass(frozen=True)
class Template:
    """One phrasing of a task. `input`/`target` are `str.format` strings over example fields."""

    id: str
    task: str
    kind: str
    heldout: bool
    input: str
    target: str
    group: str = ""
    fields: frozenset = frozenset()

    @functools.cached_property
    def needs_derived(self) -> bool:
        return bool(self.fields & DERIVED)

    @functools.cached_property
    def has_options_slot(self) -> bool:
        return "options_block" in self.fields

    def format(self, values: dict) -> tuple[str, str]:
        """(inputs, targets) for one example's field values."""
        try:
            return self.input.format_map(values), self.target.format_map(values)
        except KeyError as exc:
            raise TemplateError(
                f"Template {self.id!r} of task {self.task!r} uses field {exc.args[0]!r}, which the example "
                f"lacks (it has {sorted(values)}). Fix the template or the task's field mapping."
            ) from None


def _fields_of(*texts: str) -> frozenset:
    return frozenset(
        name.split(".")[0].split("[")[0]
        for t in texts
        for _, name, _, _ in string.Formatter().parse(t)
        if name
    )


@dataclasses.dataclass(frozen=True)
class OptionStyle:
    """How answer options are shown: a header, an item marker, and the answer form for markers."""

    header: str
    item: str
    answer: str | None = None
    inline: bool = False

    def marker(self, fmt: str, i: int, option: str = "") -> str:
        """`fmt` for the i-th option: {L}/{l} its letter, {n} its number, {o} its text."""
        return fmt.format(
            L="ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i], l="abcdefghijklmnopqrstuvwxyz"[i], n=i + 1, o=option
        )

    def render(self, options: list[str]) -> tuple[str, list[str]]:
        """(block appended to the input, the answer strings the model may produce, in order)."""
        items = [self.marker(self.item, i) + o for i, o in enumerate(options)]
        answers = (
            [self.marker(self.answer, i, o) for i, o in enumerate(options)] if self.answer else list(options)
        )
        if self.inline:
            return f"\n{self.header} {', '.join(items)}".rstrip(), answers
        head = f"\n\n{self.header}\n" if self.header else "\n\n"
        return head + "\n".join(items), answers


@dataclasses.dataclass(frozen=True)
class FewShotPattern:
    """Layout of a few-shot prompt: prefixes, input/target delimiter, separator between exemplars."""

    id: str
    family: str
    input_prefix: str
    target_prefix: str
    delimiter: str
    separator: str

    def join(self, shots: list[tuple[str, str]], query: str) -> str:
        parts = [f"{self.input_prefix}{i}{self.delimiter}{self.target_prefix}{t}" for i, t in shots]
        parts.append(f"{self.input_prefix}{query}{self.delimiter}{self.target_prefix}".rstrip())
        return self.separator.join(parts)


@functools.cache
def _formats() -> dict:
    return yaml.safe_load((CATALOG_DIR / "templates" / "_formats.yaml").read_text(encoding="utf-8"))


@functools.cache
def option_styles() -> tuple[OptionStyle, ...]:
    """Every option style: each header with each marker (line layout), plus inline layouts.

    A marker with `weight: k` appears k times, so drawing uniformly from the tuple follows the
    catalog's balance of text answers and marker answers.
    """
    f = _formats()["options"]
    lines = [
        OptionStyle(h, m["item"], m.get("answer"))
        for h in f["headers"]
        for m in f["markers"]
        for _ in range(m.get("weight", 1))
    ]
    inline = [
        OptionStyle(h, m["item"], m.get("answer"), True)
        for h in f["inline_headers"]
        for m in f["inline_markers"]
        for _ in range(m.get("weight", 1))
    ]
    return tuple(lines + inline)


@functools.cache
def fewshot_patterns(family: str) -> tuple[FewShotPattern, ...]:
    """The few-shot patterns of a task family (UnknownNameError-like ConfigError if none)."""
    fams = _formats()["fewshot"]
    if family not in fams:
        raise ConfigError(f"No few-shot patterns for family {family!r}.{suggest(family, sorted(fams))}")
    return tuple(FewShotPattern(f"{family}-{i:02d}", family, **p) for i, p in enumerate(fams[family], 1))


@functools.cache
def _group(name: str) -> dict:
    path = CATALOG_DIR / "templates" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml") if not p.stem.startswith("_"))
        raise ConfigError(f"No template group {name!r} ({path}).{suggest(name, known)}")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _build(task: Task, group: str) -> list[Template]:
    doc = _group(group)
    allowed = set(task.fields) | DERIVED
    default_target = {
        "zero_shot": f"{{{task.target}}}",
        "cot": "{rationale} " + COT_ANSWER.format(f"{{{task.target}}}"),
    }
    out = []
    for kind in KINDS:
        for i, entry in enumerate(doc.get(kind) or [], 1):
            entry = {"input": entry} if isinstance(entry, str) else entry
            tid = f"{group}-{_SHORT[kind]}{i:02d}"
            if kind == "cot" and not task.has_rationale:
                continue
            if "input" not in entry or (kind == "inverse" and "target" not in entry):
                raise ConfigError(
                    f"Template {tid} ({group}.yaml) needs `input`"
                    + (" and `target`" if kind == "inverse" else "")
                )
            target = entry.get("target", default_target.get(kind))
            fields = _fields_of(entry["input"], target)
            missing = sorted(fields - allowed)
            if missing:
                raise TemplateError(
                    f"Template {tid!r} of task {task.name!r} uses field {missing[0]!r}, which the task does not "
                    f"provide (fields: {sorted(task.fields)}). Fix {group}.yaml or the task's fields."
                )
            out.append(
                Template(
                    tid,
                    task.name,
                    kind,
                    bool(entry.get("heldout", False)),
                    entry["input"],
                    target,
                    group,
                    fields,
                )
            )
    return out


_CACHE: dict[tuple[str, int], list[Template]] = {}


def templates_for(task_name: str) -> list[Template]:
    """All templates of a task (zero-shot, inverse, and CoT when it has rationales)."""
    task = get_task(task_name)
    key = (task_name, id(task))
    if key not in _CACHE:
        _CACHE[key] = _build(task, task.templates)
    return _CACHE[key]


def get_template(task_name: str, template_id: str) -> Template:
    """One template of a task by id (UnknownNameError-style message with a suggestion)."""
    by_id = {t.id: t for t in templates_for(task_name)}
    if template_id not in by_id:
        raise TemplateError(
            f"Task {task_name!r} has no template {template_id!r}.{suggest(template_id, sorted(by_id))}"
            f" Known: {', '.join(sorted(by_id))}."
        )
    return by_id[template_id]


def choices_text(options: list[str]) -> str:
    """Options inline for the `{choices}` field: "a, b or c"."""
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}"


_BLOCKS: dict[tuple, tuple[str, list[str]]] = {}


def render(
    task: Task, tpl: Template, ex: dict, style: OptionStyle | None = None
) -> tuple[str, str, str, list[str] | None]:
    """Render one example.

    Args:
        task: the example's task.
        tpl: one of `templates_for(task.name)`.
        ex: raw example from `task.examples`.
        style: show the answer options in this style (zero-shot templates of tasks with options);
            None for the no-options variant.

    Returns:
        (inputs, targets, answer, options): `answer` is the canonical answer string, `options`
        the strings the model may answer as rendered (the target among them), or None.
    """
    answer = ex[task.target]
    fixed = task.options
    options = fixed or ex.get("options")
    block, shown = "", None
    if style is not None and options and tpl.kind == "zero_shot":
        key = (style, task.name) if fixed else None
        hit = _BLOCKS.get(key) if key else None
        block, shown = hit if hit else style.render(options)
        if key and not hit:
            _BLOCKS[key] = (block, shown)
    values = ex
    if tpl.needs_derived:
        values = dict(ex, choices=choices_text(options) if options else "", options_block=block)
    inputs, targets = tpl.format(values)
    if tpl.kind == "inverse":  # the model writes the input side, so that is what gets scored
        answer = targets
    if shown is not None:
        if not tpl.has_options_slot:
            inputs += block
        try:
            targets = shown[options.index(answer)]
        except ValueError:
            raise TemplateError(
                f"Task {task.name!r}: answer {answer!r} is not among the options {options}."
            ) from None
    return inputs, targets, answer, shown
