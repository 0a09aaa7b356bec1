"""Prompt building wired to the real Engine (random tiny T5): budgets use its token counts."""

from __future__ import annotations

from fake_engine import real_tiny_engine
from flankit.inference.prompting import build_few_shot, default_registry


def test_few_shot_budget_with_real_tokenizer_feeds_generate_and_classify():
    engine = real_tiny_engine()
    shots = [("the cat sat on the mat", "happy"), ("the dog ran over the hill", "sad")] * 8
    prompt = build_few_shot(
        "a bird flew", shots, "qa", max_tokens=engine.max_input_tokens, count_tokens=engine.count_tokens
    )
    assert 2 <= prompt.count("\nA: ") < len(shots)  # some, not all, exemplars fit the 128-token budget
    assert engine.count_tokens(prompt) <= engine.max_input_tokens
    [gen] = engine.generate([prompt], max_new_tokens=4)
    assert gen.finish_reason in ("stop", "length")
    text = default_registry().render("sentiment", text="a great movie")
    [choice] = engine.classify([text], ["positive", "negative"])
    assert choice.choice in ("positive", "negative") and abs(sum(choice.probs.values()) - 1) < 1e-6
