"""Evaluation sets: one task rendered with one template, zero- or few-shot, for scoring.

`eval_examples` renders a task's validation or test split with a named template. Few-shot
exemplars come only from the task's training split (a pool drawn with a seed different from
the mixture's), so no evaluation example can leak into a prompt; the builtin splits are
disjoint by construction (flankit.data.builtin). Each item carries the canonical `answer`
and the `options` the model may answer (as rendered: markers such as "(B)" when the option
style uses letters; the plain labels for classification without a style), so the evaluation
harness can score by generation or by rank classification.
"""

from __future__ import annotations

import random

from flankit.data.tasks import get_task
from flankit.data.templates import fewshot_patterns, get_template, option_styles, render
from flankit.errors import ConfigError

DEFAULT_BUILTIN_LIMIT = 1000  # builtin splits are endless streams


def eval_examples(
    task: str,
    template: str,
    *,
    split: str = "test",
    shots: int = 0,
    cot: bool = False,
    with_options: bool = True,
    limit: int | None = None,
    seed: int = 0,
) -> list[dict]:
    """Rendered evaluation items of one task and template.

    Args:
        task: task name.
        template: template id from `templates_for(task)`; a CoT template when `cot`.
        split: "validation" or "test" (or "train").
        shots: number of training exemplars before each item.
        cot: chain-of-thought (targets are rationale + "So the answer is X.").
        with_options: show the answer options (zero-shot templates of tasks with options).
        limit: at most this many items (builtin tasks default to 1000).
        seed: picks the option styles, exemplars and pattern.

    Returns:
        dicts {"inputs", "targets", "answer", "options", "task", "template", "format"}.
    """
    t = get_task(task)
    tpl = get_template(task, template)
    if cot != (tpl.kind == "cot"):
        raise ConfigError(
            f"Template {template!r} of task {task!r} is a {tpl.kind} template; pass cot={tpl.kind == 'cot'} "
            "or choose a template of the other kind."
        )
    if limit is None and t.source_type == "builtin":
        limit = DEFAULT_BUILTIN_LIMIT
    rng = random.Random(f"eval/{task}/{template}/{seed}")
    styles = option_styles()
    plain = list(t.options) if t.options else None
    use_style = with_options and tpl.kind == "zero_shot" and bool(t.options or t.options_field)
    pool = list(t.examples("train", seed=seed + 7919, limit=max(32, 8 * shots))) if shots else []
    pattern = fewshot_patterns(t.family)[seed % len(fewshot_patterns(t.family))] if shots else None
    base = "cot" if tpl.kind == "cot" else ("opt" if use_style else "noopt")
    fmt = ("fs_" if shots else ("" if base == "cot" else "zs_")) + base
    out = []
    for ex in t.examples(split, seed=seed, limit=limit):
        style = styles[rng.randrange(len(styles))] if use_style else None
        inputs, targets, answer, shown = render(t, tpl, ex, style)
        if shots:
            picks = [e for e in rng.sample(pool, min(len(pool), shots + 1)) if e != ex][:shots]
            inputs = pattern.join([render(t, tpl, e, style)[:2] for e in picks], inputs)
        if shown is None and t.kind == "classification" and tpl.kind != "inverse":
            shown = plain or list(ex.get("options") or []) or None
        out.append(
            {
                "inputs": inputs,
                "targets": targets,
                "answer": answer,
                "options": shown,
                "task": t.name,
                "template": tpl.id,
                "format": fmt,
            }
        )
    return out
