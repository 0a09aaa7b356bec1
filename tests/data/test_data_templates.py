"""Templates: counts, inverse share, held-out marks, option styles, few-shot patterns, rendering."""

from __future__ import annotations

import random

import pytest

from flankit.data.tasks import builtin_tasks, get_task, list_tasks
from flankit.data.templates import (
    COT_ANSWER,
    OptionStyle,
    Template,
    TemplateError,
    fewshot_patterns,
    get_template,
    option_styles,
    render,
    templates_for,
)

BUILTIN = [t.name for t in builtin_tasks()]
RENDER_FORMATS = ("zs_opt", "zs_noopt", "fs_opt", "fs_noopt", "cot", "fs_cot")


@pytest.mark.parametrize("task", [t.name for t in list_tasks()])
def test_every_task_has_ten_zero_shot_paraphrases_and_some_inverse(task):
    tpls = templates_for(task)  # also validates that each template only uses the task's fields
    kinds = [t.kind for t in tpls if t.kind != "cot"]
    assert kinds.count("zero_shot") >= 10
    assert len({t.input for t in tpls}) == len(tpls)
    t = get_task(task)
    if t.kind == "classification" or t.family == "qa":
        assert 0.12 <= kinds.count("inverse") / len(kinds) <= 0.3
    if t.has_rationale:
        assert sum(x.kind == "cot" for x in tpls) >= 3
    else:
        assert all(x.kind != "cot" for x in tpls)


@pytest.mark.parametrize("task", BUILTIN)
def test_builtin_tasks_hold_out_two_zero_shot_templates(task):
    held = [t for t in templates_for(task) if t.heldout]
    assert len(held) == 2 and all(t.kind == "zero_shot" for t in held)


@pytest.mark.parametrize("task", BUILTIN)
def test_heldout_ids_stay_put_after_appended_wordings(task):
    # results across runs compare zs09/zs10 of each group; new wordings go after them, never before
    tpls = templates_for(task)
    group = tpls[0].id.rsplit("-", 1)[0]
    assert [t.id for t in tpls if t.heldout] == [f"{group}-zs09", f"{group}-zs10"]


def test_templates_vary_layout():
    tpls = [t for t in templates_for("nli") if t.kind == "zero_shot"]
    assert any(t.input.startswith("{") for t in tpls) and any(not t.input.startswith("{") for t in tpls)
    assert any(t.input.rstrip().endswith("?") for t in tpls) and any(
        not t.input.rstrip().endswith("?") for t in tpls
    )


@pytest.mark.parametrize("family", ["classification", "qa", "generation", "reasoning"])
def test_few_shot_patterns_per_family(family):
    pats = fewshot_patterns(family)
    assert len(pats) >= 8
    assert len({(p.input_prefix, p.target_prefix, p.delimiter, p.separator) for p in pats}) == len(pats)
    joined = pats[0].join([("a", "b"), ("c", "d")], "e")
    assert joined.index("a") < joined.index("c") < joined.index("e")


def test_option_styles_vary_headers_and_markers():
    styles = option_styles()
    assert len({s.header for s in styles}) >= 8 and len({s.item for s in styles}) >= 8
    assert any(s.inline for s in styles)


def test_option_styles_answer_mostly_with_text_as_flan_does():
    styles = option_styles()
    text_share = sum(s.answer is None for s in styles) / len(styles)
    assert 0.6 <= text_share <= 0.72  # FLAN's "- option" lists; a third answer with the marked line
    assert len({s.item for s in styles if s.answer}) >= 7  # every marker form is still drawn
    # a marked answer repeats the option's line: the text, not a bare marker, carries the answer
    assert all(s.answer.endswith("{o}") and s.answer.startswith(s.item.strip()) for s in styles if s.answer)


def test_lettered_style_answers_with_the_marked_option():
    task = get_task("nli")
    tpl = templates_for("nli")[0]
    ex = {"premise": "P.", "hypothesis": "H.", "label": "maybe"}
    inputs, target, answer, shown = render(task, tpl, ex, OptionStyle("OPTIONS:", "({L}) ", "({L}) {o}"))
    assert inputs.endswith("OPTIONS:\n(A) yes\n(B) no\n(C) maybe")
    assert (target, answer, shown) == ("(C) maybe", "maybe", ["(A) yes", "(B) no", "(C) maybe"])
    _, target, _, shown = render(task, tpl, ex, OptionStyle("Choices:", "{n}. ", "{n}"))
    assert (target, shown) == ("3", ["1", "2", "3"])  # a bare-marker form stays possible
    inputs, target, _, shown = render(task, tpl, ex, OptionStyle("Options:", "- "))
    assert target == "maybe" and shown == ["yes", "no", "maybe"] and "- maybe" in inputs
    inputs, target, _, shown = render(task, tpl, ex, None)
    assert target == "maybe" and shown is None and "yes" not in inputs


def test_missing_field_names_task_template_and_field():
    task = get_task("sentiment")
    bad = Template("sentiment-bad", "sentiment", "zero_shot", False, "{text} {rating}", "{label}")
    with pytest.raises(TemplateError, match=r"'sentiment-bad' of task 'sentiment' uses field 'rating'"):
        render(task, bad, {"text": "fine", "label": "positive"})
    with pytest.raises(TemplateError, match="no template 'sentiment-zs99'"):
        get_template("sentiment", "sentiment-zs99")


def _render_all(task_name: str, fmt: str, n: int = 100):
    task = get_task(task_name)
    kinds = {"cot": ("cot",), "fs_cot": ("cot",)}.get(
        fmt, ("zero_shot",) if "opt" in fmt and "noopt" not in fmt else ("zero_shot", "inverse")
    )
    tpls = [t for t in templates_for(task_name) if t.kind in kinds]
    styles = option_styles()
    rng = random.Random(0)
    exs = list(task.examples("train", seed=11, limit=n))
    pattern = fewshot_patterns(task.family)[0]
    for tpl in tpls:
        for i, ex in enumerate(exs):
            style = styles[rng.randrange(len(styles))] if fmt.endswith("_opt") else None
            inputs, targets, answer, shown = render(task, tpl, ex, style)
            if fmt.startswith("fs_"):
                shots = [render(task, tpl, e, style)[:2] for e in (exs[i - 1], exs[i - 2])]
                inputs = pattern.join(shots, inputs)
            yield tpl, ex, inputs, targets, answer, shown


def _formats_of(task) -> list[str]:
    fmts = [f for f in RENDER_FORMATS if task.has_rationale or "cot" not in f]
    return [f for f in fmts if task.options or task.options_field or not f.endswith("_opt")]


@pytest.mark.parametrize(("task_name", "fmt"), [(t.name, f) for t in builtin_tasks() for f in _formats_of(t)])
def test_every_template_renders_in_every_format(task_name, fmt):
    task = get_task(task_name)
    sep = fewshot_patterns(task.family)[0].separator
    count = 0
    for tpl, ex, inputs, targets, answer, shown in _render_all(task_name, fmt):
        count += 1
        assert inputs.strip() and targets.strip()
        assert "{" not in inputs
        if tpl.kind == "cot":
            assert targets.endswith(COT_ANSWER.format(ex[task.target]))
        elif fmt.endswith("_opt"):
            assert shown is not None and targets in shown and answer == ex[task.target]
        if fmt.startswith("fs_"):
            assert inputs.count(sep) >= 2
    assert count >= 100 * 2
