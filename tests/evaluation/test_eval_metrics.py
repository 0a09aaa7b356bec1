"""Metric parity (SQuAD v1.1, rouge-score, sacrebleu), filters, bootstrap errors."""

from __future__ import annotations

import math

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from flankit.errors import DataError, UnknownNameError
from flankit.evaluation import metrics as M


@pytest.mark.parametrize(
    ("pred", "ref", "em", "f1"),
    [
        ("The Cat!", "cat", 1.0, 1.0),
        ("the cat sat on the mat", "cat sat on mat", 1.0, 1.0),
        ("cat sat", "the cat sat down", 0.0, 0.8),  # P=1, R=2/3
        ("x x y", "x y y", 0.0, 2 / 3),  # multiset overlap counts x once, y once
        ("", "cat", 0.0, 0.0),
        ("dog", "cat", 0.0, 0.0),
    ],
)
def test_squad_em_f1_known_values(pred, ref, em, f1):
    assert M.compute("exact_match", [pred], [ref]) == pytest.approx(em)
    assert M.compute("f1", [pred], [ref]) == pytest.approx(f1)


def test_multiple_references_take_the_best():
    assert M.compute("f1", ["blue"], [["red", "blue sky"]]) == pytest.approx(2 / 3)
    assert M.compute("exact_match", ["Red."], [["blue", "red"]]) == 1.0
    assert M.compute("accuracy", ["a", "b", "c", "d"], ["a", "x", ["y", "c"], "d"]) == 0.75


def test_strict_match_keeps_punctuation():
    # SQuAD normalization would make ") ]" and "" equal; BBH's Dyck answers need strict match.
    assert M.compute("exact_match", [""], [") ]"]) == 1.0
    assert M.compute("strict_match", [""], [") ]"]) == 0.0
    assert M.compute("strict_match", [" )  ]"], [") ]"]) == 1.0


PREDS = ["the cat sat on the mat", "a quick brown fox jumps", "hello there world", "running fast today"]
REFS = ["the cat is on the mat", "the quick brown fox jumped over", "hello world", "he runs fast"]


@pytest.mark.parametrize("kind", ["rouge1", "rouge2", "rougeL"])
def test_rouge_parity_with_rouge_score(kind):
    scorer = rouge_scorer.RougeScorer([kind], use_stemmer=True)
    expected = sum(scorer.score(r, p)[kind].fmeasure for p, r in zip(PREDS, REFS, strict=True)) / len(PREDS)
    assert M.compute(kind, PREDS, REFS) == pytest.approx(expected)
    assert 0 < expected < 1


def test_rouge_known_value_and_multi_reference():
    assert M.compute("rouge1", ["the cat sat"], ["the cat ran"]) == pytest.approx(2 / 3)
    assert M.compute("rouge1", ["the cat sat"], [["dog", "the cat sat"]]) == pytest.approx(1.0)


def test_bleu_chrf_parity_with_sacrebleu():
    assert M.compute("bleu", PREDS, REFS) == pytest.approx(sacrebleu.corpus_bleu(PREDS, [REFS]).score)
    assert M.compute("chrf", PREDS, REFS) == pytest.approx(sacrebleu.corpus_chrf(PREDS, [REFS]).score)
    assert M.compute("bleu", REFS, REFS) == pytest.approx(100.0)
    two = [[r, r.upper()] for r in REFS]
    expected = sacrebleu.corpus_bleu(PREDS, [REFS, [r.upper() for r in REFS]]).score
    assert M.compute("bleu", PREDS, two) == pytest.approx(expected)


def test_variable_reference_counts_for_bleu():
    refs = [["the cat is on the mat"], ["a fox", "the quick brown fox jumped over"]]
    expected = sacrebleu.corpus_bleu(PREDS[:2], [[refs[0][0], refs[1][0]], [None, refs[1][1]]]).score
    assert M.compute("bleu", PREDS[:2], refs) == pytest.approx(expected)


def test_bad_metric_input():
    with pytest.raises(UnknownNameError, match="Did you mean 'rougeL'"):
        M.compute("rougel", ["a"], ["a"])
    with pytest.raises(DataError, match="empty"):
        M.compute("accuracy", [], [])
    with pytest.raises(DataError, match="2 predictions but 1 references"):
        M.compute("accuracy", ["a", "b"], ["a"])


@pytest.mark.parametrize(
    ("spec", "text", "options", "expected"),
    [
        ("answer_is", "Two plus two... So the answer is (B).", None, "(B)"),
        ("answer_is", "First the answer is 3. Then, so the answer is 18.5.", None, "18.5"),
        ("answer_is", "no marker here ", None, "no marker here"),
        ("gsm8k", "She makes 9 * 2 = $18.\n#### 1,018", None, "1018"),
        ("gsm8k", "The total is 42 dollars.", None, "42"),
        ("last_number", "from 3 to -7.00 apples", None, "-7"),
        ("first_option", "I think it is negative, not positive", ["positive", "negative"], "negative"),
        ("first_option", "(A)", ["(A)", "(B)"], "(A)"),
        ("first_option", "none of them", ["yes", "no"], "no"),
        ("first_option", "maybe", ["yes", "no"], "maybe"),
        ("regex:label: (\\w+)", "the label: sports.", None, "sports"),
    ],
)
def test_filters(spec, text, options, expected):
    assert M.apply_filters([spec], text, options) == expected


def test_unknown_filter_suggests():
    with pytest.raises(UnknownNameError, match="Did you mean 'gsm8k'"):
        M.apply_filters(["gsm8"], "x")
    with pytest.raises(UnknownNameError, match="regex"):
        M.apply_filters(["regex:("], "x")


def test_bootstrap_stderr_matches_binomial_and_is_seeded():
    preds = ["a"] * 300 + ["b"] * 100
    refs = ["a"] * 400
    se = M.bootstrap_stderr("accuracy", preds, refs, n_boot=2000, seed=1)
    assert se == pytest.approx(math.sqrt(0.75 * 0.25 / 400), rel=0.1)
    assert se == M.bootstrap_stderr("accuracy", preds, refs, n_boot=2000, seed=1)
    corpus_se = M.bootstrap_stderr("bleu", PREDS * 5, REFS * 5, n_boot=30, seed=0)
    assert corpus_se > 0
