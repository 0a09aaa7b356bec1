"""Few-shot prompt building and the YAML prompt registry."""

from __future__ import annotations

import pytest

from flankit.errors import ConfigError, InputTooLongError, UnknownNameError
from flankit.inference.prompting import (
    PATTERNS,
    FewShotPattern,
    PromptRegistry,
    build_few_shot,
    default_registry,
    load_registry,
    template_fields,
)

SHOTS = [("1+1?", "2"), ("2+2?", "4")]


def test_few_shot_qa_pattern_layout():
    prompt = build_few_shot("3+3?", SHOTS, "qa", instruction="Add the numbers.")
    assert prompt == "Add the numbers.\n\nQ: 1+1?\nA: 2\n\nQ: 2+2?\nA: 4\n\nQ: 3+3?\nA:"


@pytest.mark.parametrize("name", PATTERNS.names())
def test_every_builtin_pattern_puts_exemplars_before_query(name):
    prompt = build_few_shot("3+3?", [{"input": "1+1?", "target": "2"}], name)
    assert prompt.index("1+1?") < prompt.index("2") < prompt.index("3+3?")
    assert not prompt.endswith(" ")


def test_custom_pattern_and_mixture_style_dicts():
    pat = FewShotPattern("mine", "In: ", "Out: ", delimiter=" | ", separator=" ## ")
    prompt = build_few_shot("c", [{"inputs": "a", "targets": "b"}], pat)
    assert prompt == "In: a | Out: b ## In: c | Out:"


def test_budget_drops_trailing_exemplars():
    count = lambda s: len(s.split())  # noqa: E731
    full = build_few_shot("3+3?", SHOTS, "qa")
    prompt = build_few_shot("3+3?", SHOTS, "qa", max_tokens=count(full) - 1, count_tokens=count)
    assert "1+1?" in prompt and "2+2?" not in prompt and prompt.endswith("Q: 3+3?\nA:")
    with pytest.raises(InputTooLongError, match="query alone takes"):
        build_few_shot("a very long query " * 5, SHOTS, "qa", max_tokens=3, count_tokens=count)


def test_few_shot_bad_inputs():
    with pytest.raises(UnknownNameError, match="Did you mean 'qa'"):
        build_few_shot("x", SHOTS, "qaa")
    with pytest.raises(ConfigError, match="input/target"):
        build_few_shot("x", [("only one",)])
    with pytest.raises(ConfigError, match="'input' and 'target'"):
        build_few_shot("x", [{"question": "a", "answer": "b"}])
    with pytest.raises(ConfigError, match="count_tokens"):
        build_few_shot("x", SHOTS, max_tokens=10)


def test_default_registry_lists_renders_and_validates():
    reg = default_registry()
    assert {"summarize", "self_check", "answer_question", "cot"} <= set(reg.names())
    assert reg.validate() == []
    assert reg.get("summarize").version == 2  # latest by default
    assert reg.render("summarize", 1, text="Hi.") == "Summarize the following text.\n\nHi."
    assert reg.render("summarize", text="Hi.").startswith("Write a short summary")  # default filled
    assert reg.render("summarize", text="Hi.", length="long").startswith("Write a long summary")


def test_missing_variable_names_template_and_field():
    with pytest.raises(ConfigError, match=r"answer_question@v1: missing variable\(s\) question"):
        default_registry().render("answer_question", passage="p")


def test_unknown_prompt_and_version():
    reg = default_registry()
    with pytest.raises(UnknownNameError, match="Did you mean 'summarize'"):
        reg.get("sumarize")
    with pytest.raises(UnknownNameError, match=r"no version 9; versions: \[1, 2\]"):
        reg.get("summarize", 9)


def test_user_yaml_adds_versions_and_validate_reports_broken_templates(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "prompts:\n"
        "  - {name: summarize, version: 3, template: 'TL;DR {text}'}\n"
        "  - {name: broken, template: 'Hello {name'}\n"
    )
    reg = load_registry(path)
    assert reg.render("summarize", text="x") == "TL;DR x"
    assert len(reg) == len(default_registry()) + 2
    problems = reg.validate()
    assert len(problems) == 1 and problems[0].startswith("broken@v1") and "mine.yaml" in problems[0]


@pytest.mark.parametrize(
    "body, message",
    [
        ("prompts: [{name: a, template: 'x', verison: 2}]", "unknown key 'verison'. Did you mean 'version'"),
        ("prompts: [{name: a}]", "'template' is required"),
        ("prompts: [{name: a, template: x, version: 0}]", "version must be a positive integer"),
        ("prompts: {name: a}", "top-level 'prompts:' list"),
        ("prompts: [a, b", "not valid YAML"),
        ("- just a list", "top level must be a mapping"),
        ("prompts:\n - {name: summarize, version: 1, template: '{text}'}", "summarize@v1 is defined twice"),
    ],
)
def test_bad_prompt_files(tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_registry(path)


def test_missing_file_and_unsafe_fields(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        PromptRegistry().load(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="plain name"):
        template_fields("{text.__class__}")
    assert template_fields("{a} {b} {a} {{literal}}") == ["a", "b"]
