"""Answer extraction, chain-of-thought prompting and self-consistency (fake engine)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fake_engine import FakeEngine
from flankit.errors import ConfigError, UnknownNameError
from flankit.inference.answers import (
    COT_TRIGGER,
    add_trigger,
    chain_of_thought,
    extract_answer,
    majority_vote,
)


@pytest.mark.parametrize(
    "text, patterns, options, expected",
    [
        ("3 apples and 4 more is 7. So the answer is 7.", None, None, "7"),
        ("It rains, so the answer is yes.\n", None, None, "yes"),
        ("So the answer is 5. Wait. So the answer is 6.", None, None, "6"),
        ("She pays 2 * $1,250 = $2,500.\n#### 2,500", None, None, "2500"),
        ("The answer is (B).", None, None, "(B)"),
        ("First 12 then 15.0 total", None, None, "15"),
        (
            "I think it is probably negative overall, not positive.",
            None,
            ["positive", "negative"],
            "negative",
        ),
        ("So the answer is: Yes, it does.", None, ["yes", "no"], "yes"),
        ("Total: 42 units. answer=42", [r"answer=(\d+)"], None, "42"),
        ("Total: 42 units.", [re.compile(r"total: (\d+)", re.I)], None, "42"),
        ("no numbers or cue here", ["last_number"], None, None),
        ("So the answer is maybe.", ["so_the_answer_is"], ["yes", "no"], None),
    ],
)
def test_extract_answer(text, patterns, options, expected):
    kwargs = {"patterns": patterns} if patterns else {}
    assert extract_answer(text, options=options, **kwargs) == expected


def test_extract_answer_pattern_order_matters():
    text = "So the answer is 12. #### 13"
    assert extract_answer(text, ["gsm8k", "so_the_answer_is"]) == "13"
    assert extract_answer(text, ["so_the_answer_is", "gsm8k"]) == "12"


def test_extract_answer_bad_patterns():
    with pytest.raises(UnknownNameError, match="Did you mean 'gsm8k'"):
        extract_answer("x", ["gsm8"])
    with pytest.raises(ConfigError, match="capture group"):
        extract_answer("x", [re.compile("x")])
    with pytest.raises(ConfigError, match="not a valid regex"):
        extract_answer("x", ["(unclosed"])


def test_add_trigger_is_idempotent():
    once = add_trigger("Q: 2+2?  ")
    assert once == f"Q: 2+2?\n{COT_TRIGGER}"
    assert add_trigger(once) == once


def test_majority_vote_ties_go_to_first_seen_and_none_never_wins():
    assert majority_vote(["8", None, "7", "7", "8"]) == ("8", {"8": 2, "7": 2})
    assert majority_vote([None, None]) == (None, {})


def test_greedy_cot_appends_trigger_and_extracts():
    engine = FakeEngine(respond=lambda p, i, o: "3 plus 4 is 7. So the answer is 7.")
    [result] = chain_of_thought(engine, ["Q: 3 apples plus 4 apples?"], config="CFG")
    kind, prompts, overrides = engine.calls[0]
    assert prompts == [f"Q: 3 apples plus 4 apples?\n{COT_TRIGGER}"]
    assert overrides == {"config": "CFG"}  # k=1: the caller's config as is, no sampling forced
    assert (result.answer, result.votes, result.agreement) == ("7", {"7": 1}, 1.0)


def test_self_consistency_votes_over_k_samples():
    answers = ["7", "8", "7", "no idea", "7"]
    engine = FakeEngine(respond=lambda p, i, o: f"Reasoning {i}. The answer is {answers[i]}.")
    [result] = chain_of_thought(engine, ["Q: 3+4?"], k=5, patterns=["the_answer_is"], seed=3, temperature=0.5)
    overrides = engine.calls[0][2]
    assert overrides["do_sample"] and overrides["num_return_sequences"] == 5
    assert (overrides["seed"], overrides["temperature"]) == (3, 0.5)
    assert result.answer == "7" and result.votes == {"7": 3, "8": 1, "no idea": 1}
    assert result.agreement == pytest.approx(0.6)
    assert len(result.rationales) == 5 and result.rationales[1] == "Reasoning 1. The answer is 8."


def test_cot_per_prompt_options_and_no_trigger():
    engine = FakeEngine(respond=lambda p, i, o: "I would say B, not A." if "letters" in p else "Clearly no.")
    results = chain_of_thought(
        engine, ["Pick letters", "Yes or no?"], options=[["A", "B"], ["yes", "no"]], trigger=None
    )
    assert engine.calls[0][1] == ["Pick letters", "Yes or no?"]
    assert [r.answer for r in results] == ["B", "no"]


def test_cot_unanswerable_and_bad_arguments():
    engine = FakeEngine(respond=lambda p, i, o: "I cannot tell.")
    assert chain_of_thought(engine, ["Q?"], patterns=["gsm8k"])[0].agreement == 0.0
    with pytest.raises(ConfigError, match="k must be >= 1"):
        chain_of_thought(engine, ["Q?"], k=0)
    with pytest.raises(ConfigError, match="2 option lists for 1 prompts"):
        chain_of_thought(engine, ["Q?"], options=[["a"], ["b"]])


def test_gold_gsm8k_rationales_yield_their_answers():
    """Every real GSM8K test rationale: '#### N' and 'So the answer is N.' both give N."""
    path = Path(__file__).resolve().parents[2] / ".." / "shared" / "external" / "gsm8k" / "test.jsonl"
    if not path.is_file():
        pytest.skip("../shared/external/gsm8k is absent")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) > 1000
    for row in rows:
        body, gold = row["answer"].rsplit("####", 1)
        gold = gold.strip().replace(",", "")
        assert extract_answer(row["answer"]) == gold
        assert extract_answer(f"{body.strip()}\nSo the answer is {gold}.") == gold
