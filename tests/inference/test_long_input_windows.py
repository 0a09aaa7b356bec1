"""Long inputs: windows, window aggregation, extraction, map-reduce summaries (fake engine)."""

from __future__ import annotations

import pytest

from fake_engine import FakeEngine
from flankit.errors import ConfigError, DataError, InputTooLongError, ModelError
from flankit.inference.long_input import classify_long, extract_long, split_windows, summarize_long

WORDS = [f"w{i}" for i in range(200)]
TEXT = " ".join(WORDS)


@pytest.mark.parametrize("is_fast", [True, False])
def test_windows_fit_budget_overlap_and_cover_everything(is_fast):
    engine = FakeEngine(max_input_tokens=32, is_fast=is_fast)
    template = "Read this: {text} Topic?"
    windows = split_windows(engine, TEXT, overlap=5, template=template)
    assert all(engine.count_tokens(template.format(text=w)) <= 32 for w in windows)
    assert max(engine.count_tokens(template.format(text=w)) for w in windows) == 32  # budget fully used
    for a, b in zip(windows, windows[1:], strict=False):
        assert a.split()[-5:] == b.split()[:5]
    covered = windows[0].split() + [w for win in windows[1:] for w in win.split()[5:]]
    assert covered == WORDS
    assert split_windows(engine, "short text", template=template) == ["short text"]


def test_windows_are_exact_slices_of_the_original_text():
    engine = FakeEngine(max_input_tokens=6)
    text = "alpha  beta\n\ngamma delta   epsilon zeta"
    windows = split_windows(engine, text, overlap=1)
    assert windows == ["alpha  beta\n\ngamma delta   epsilon", "epsilon zeta"]


def test_window_bad_inputs():
    engine = FakeEngine(max_input_tokens=10)
    with pytest.raises(DataError, match="empty"):
        split_windows(engine, "   ")
    with pytest.raises(ConfigError, match="room for 9 text tokens.*overlap=9"):
        split_windows(engine, TEXT, overlap=9)
    with pytest.raises(ConfigError, match=r"no \{text\} field"):
        split_windows(engine, TEXT, template="Hello {name}", name="x")


def sentiment_text() -> str:
    # 3 windows of 19 words (budget 20 minus EOS): two mildly positive, one strongly negative.
    mild = "good " + "filler " * 18
    strong = "bad " * 12 + "filler " * 7
    return mild + mild + strong


def sentiment_score(prompt: str, option: str) -> float:
    return prompt.split().count({"positive": "good", "negative": "bad"}[option]) * 1.0


@pytest.mark.parametrize(
    "aggregate, expected", [("vote", "positive"), ("mean", "negative"), ("max", "negative")]
)
def test_classify_long_aggregations(aggregate, expected):
    engine = FakeEngine(score=sentiment_score, max_input_tokens=20)
    result = classify_long(engine, sentiment_text(), ["positive", "negative"], overlap=0, aggregate=aggregate)
    assert result.num_windows == 3
    assert result.votes == {"positive": 2, "negative": 1}
    assert result.choice == expected
    assert sum(result.probs.values()) == pytest.approx(1.0)


def test_long_input_is_never_silently_truncated():
    engine = FakeEngine(score=sentiment_score, max_input_tokens=20)
    with pytest.raises(InputTooLongError):  # the engine itself refuses over-long prompts
        engine.classify([sentiment_text()], ["positive", "negative"])
    with pytest.warns(UserWarning, match="kept the first 19 of 57 input tokens, cut 38"):
        result = classify_long(engine, sentiment_text(), ["positive", "negative"], overlap=0, truncate=True)
    assert result.num_windows == 1 and result.choice == "positive"


def test_classify_long_bad_aggregate():
    with pytest.raises(ConfigError, match="aggregate must be one of mean, vote, max"):
        classify_long(FakeEngine(), TEXT, ["a", "b"], aggregate="median")


def answer_in_window(prompt, i, overrides):
    for word in prompt.split():
        if word.startswith("year"):
            return word[4:]
    return "unanswerable"


def test_extract_long_vote_ignores_no_answer_windows():
    text = " ".join(["x"] * 30 + ["year1843"] + ["x"] * 30 + ["year1843"] + ["x"] * 30 + ["year1901"])
    engine = FakeEngine(respond=answer_in_window, max_input_tokens=40)
    result = extract_long(engine, text, question="When?", overlap=0)
    assert len(result.window_answers) > 3 and "unanswerable" in result.window_answers
    assert result.answer == "1843" and result.votes == {"1843": 2, "1901": 1}


def test_extract_long_confidence_uses_classify_scores():
    text = " ".join(["year1843"] + ["x"] * 40 + ["year1901", "1901", "1901"])
    engine = FakeEngine(respond=answer_in_window, max_input_tokens=40)
    voted = extract_long(engine, text, "Q: {question} Doc: {passage}", question="When?", overlap=0)
    best = extract_long(
        engine, text, "Q: {question} Doc: {passage}", question="When?", overlap=0, aggregate="confidence"
    )
    assert voted.answer == "1843"  # tie, earliest window wins
    assert best.answer == "1901" and best.scores["1901"] > best.scores["1843"]
    assert engine.calls[-1][0] == "classify"


def first_words(prompt, i, overrides):
    body = prompt.split("\n\n", 1)[1].split()
    return " ".join(body[:3])


def test_summarize_long_map_reduce_rounds():
    engine = FakeEngine(respond=first_words, max_input_tokens=20)
    summary = summarize_long(engine, TEXT)
    assert summary.rounds >= 3 and summary.chunks_per_round[-1] == 1
    assert summary.chunks_per_round[0] > summary.chunks_per_round[1]
    assert summary.text == "w0 w1 w2"
    generate_calls = [c for c in engine.calls if c[0] == "generate"]
    assert len(generate_calls) == summary.rounds
    assert all(engine.count_tokens(p) <= 20 for _, prompts, _ in generate_calls for p in prompts)


def test_summarize_short_text_is_one_call():
    engine = FakeEngine(respond=first_words, max_input_tokens=20)
    summary = summarize_long(engine, "one two three four five")
    assert (summary.text, summary.rounds, summary.chunks_per_round) == ("one two three", 1, [1])


def test_summaries_that_do_not_shrink_and_round_limit():
    engine = FakeEngine(respond=lambda p, i, o: p.split("\n\n", 1)[1], max_input_tokens=20)
    with pytest.raises(ModelError, match="not shorter than their input"):
        summarize_long(engine, TEXT)
    engine = FakeEngine(respond=first_words, max_input_tokens=20)
    with pytest.raises(InputTooLongError, match="after 1 summary rounds"):
        summarize_long(engine, TEXT, max_rounds=1)
