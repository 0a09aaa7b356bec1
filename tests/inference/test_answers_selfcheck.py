"""Self-check verdicts by rank classification (fake engine)."""

from __future__ import annotations

import pytest

from fake_engine import FakeEngine
from flankit.errors import ConfigError
from flankit.inference.prompting import PromptRegistry, PromptTemplate
from flankit.inference.selfcheck import self_check, self_check_many

PASSAGE = "Ada Lovelace wrote the first published program in 1843."


def supported(prompt: str, option: str) -> float:
    """'yes' scores high when the proposed answer occurs in the passage."""
    passage = prompt.split("Passage: ")[1].split("\n")[0]
    answer = prompt.split("Proposed answer: ")[1].split("\n")[0]
    return float((answer in passage) == (option == "yes"))


def test_self_check_returns_answer_with_verdict():
    engine = FakeEngine(score=supported, max_input_tokens=100)
    good = self_check(engine, PASSAGE, "When?", "1843")
    bad = self_check(engine, PASSAGE, "When?", "1901")
    assert (good.answer, good.consistent, good.verdict) == ("1843", True, "yes")
    assert (bad.answer, bad.consistent, bad.verdict) == ("1901", False, "no")
    assert good.confidence > 0.5 > bad.confidence
    assert "Proposed answer: 1843" in good.prompt and PASSAGE in good.prompt
    assert engine.calls[0][2]["options"] == ["yes", "no"]


def test_self_check_many_is_one_classify_call_with_custom_prompt():
    engine = FakeEngine(score=lambda p, o: float(f"| {o} |" in p), max_input_tokens=100)
    reg = PromptRegistry([PromptTemplate("check", 1, "{passage} | {question} | {answer} | ok?")])
    out = self_check_many(
        engine, [("p1", "q", "ok"), ("p2", "q", "bad")], prompt="check", registry=reg, options=("ok", "bad")
    )
    assert len(engine.calls) == 1 and engine.calls[0][1][0] == "p1 | q | ok | ok?"
    assert [c.consistent for c in out] == [True, False]
    assert self_check_many(engine, []) == []


def test_self_check_bad_inputs():
    engine = FakeEngine()
    with pytest.raises(ConfigError, match="non-empty passage"):
        self_check(engine, "  ", "q", "a")
    with pytest.raises(ConfigError, match="two different words"):
        self_check(engine, PASSAGE, "q", "a", options=("yes", "yes"))
