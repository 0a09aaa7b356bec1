"""Chain of thought and self-check wired to the real Engine (random tiny T5)."""

from __future__ import annotations

from fake_engine import real_tiny_engine
from flankit.inference.answers import chain_of_thought
from flankit.inference.selfcheck import self_check


def test_self_consistency_samples_k_rationales_reproducibly():
    engine = real_tiny_engine()
    prompts, options = ["one plus two", "three minus one"], ["one", "two", "three", "four", "five"]
    first, again = (chain_of_thought(engine, prompts, k=4, seed=0, options=options) for _ in range(2))
    assert [r.rationales for r in first] == [r.rationales for r in again]  # seeded sampling
    for r in first:
        assert len(r.rationales) == 4 and sum(r.votes.values()) == sum(a is not None for a in r.answers)
        assert r.answer is None or r.votes[r.answer] == max(r.votes.values())


def test_self_check_with_real_classify():
    engine = real_tiny_engine()
    check = self_check(engine, "the cat sat on the mat", "where did the cat sit", "on the mat")
    assert check.verdict in ("yes", "no") and check.consistent == (check.verdict == "yes")
    assert 0.0 < check.confidence < 1.0 and check.answer == "on the mat"
