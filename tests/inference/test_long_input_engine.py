"""Long-input helpers wired to the real Engine (random tiny T5, 128-token budget)."""

from __future__ import annotations

import pytest

from fake_engine import real_tiny_engine
from flankit.errors import InputTooLongError
from flankit.inference.engine import GenerationConfig
from flankit.inference.long_input import classify_long, split_windows, summarize_long

DOC = " ".join(["the happy cat sat on the mat because the film was great"] * 40)


def test_classify_long_windows_a_document_the_engine_refuses_whole():
    engine = real_tiny_engine()
    with pytest.raises(InputTooLongError):
        engine.classify([DOC], ["positive", "negative"])
    template = "{text}\nIs this positive or negative?"
    windows = split_windows(engine, DOC, overlap=8, template=template)
    assert len(windows) > 2
    assert all(engine.count_tokens(template.format(text=w)) <= engine.max_input_tokens for w in windows)
    result = classify_long(engine, DOC, ["positive", "negative"], template=template, overlap=8)
    assert result.num_windows == len(windows) and sum(result.votes.values()) == len(windows)


def test_summarize_long_with_real_generate():
    engine = real_tiny_engine()
    # Sampling, because the untrained model's greedy output is all sentinel tokens (empty text).
    summary = summarize_long(
        engine, DOC, config=GenerationConfig(max_new_tokens=6, min_new_tokens=2, do_sample=True, seed=0)
    )
    assert summary.rounds >= 2 and summary.chunks_per_round[0] > 1
    assert engine.count_tokens(summary.text) <= 6 + 1
