"""Features and objectives: truncation, packing, collation, loss normalization, span corruption."""

from __future__ import annotations

import random

import pytest
import torch

from flankit.data.features import IGNORE, collate, fill_grouped_rows, length_grouped_rows, pack_rows, truncate
from flankit.modeling.t5 import T5
from flankit.training.objectives import (
    Seq2SeqObjective,
    batch_weight,
    chunk_length,
    drop_tokens,
    span_corrupt,
)
from t5_testing import small_config


def random_pairs(n: int, seed: int = 0, max_in: int = 20, max_out: int = 7):
    rnd = random.Random(seed)
    return [
        (
            [rnd.randrange(3, 97) for _ in range(rnd.randint(1, max_in - 1))] + [1],
            [rnd.randrange(3, 97) for _ in range(rnd.randint(0, max_out - 1))] + [1],
        )
        for _ in range(n)
    ]


def test_truncate_keeps_eos():
    assert truncate([5, 6, 7, 8, 1], 3) == [5, 6, 1]
    assert truncate([5, 6, 7, 8], 3) == [5, 6, 7]
    assert truncate([5, 1], 3) == [5, 1]


def test_pack_rows_fit_and_cover_every_example_once():
    pairs = random_pairs(200)
    rows = pack_rows(pairs, 32, 12)
    assert sorted(i for r in rows for i in r) == list(range(200))
    for r in rows:
        assert sum(len(pairs[i][0]) for i in r) <= 32 and sum(len(pairs[i][1]) for i in r) <= 12
    assert len(rows) < 120  # several examples share a row


def test_collate_segments_shift_and_padding():
    pairs = [([5, 6, 1], [7, 8, 1]), ([9, 1], [4, 1])]
    b = collate(pairs, [[0, 1]], multiple=8)
    assert b["input_ids"][0].tolist() == [5, 6, 1, 9, 1, 0, 0, 0]
    assert b["encoder_segment_ids"][0].tolist() == [1, 1, 1, 2, 2, 0, 0, 0]
    assert b["decoder_input_ids"][0].tolist() == [0, 7, 8, 0, 4, 0, 0, 0]  # restarts per segment
    assert b["decoder_segment_ids"][0].tolist() == [1, 1, 1, 2, 2, 0, 0, 0]
    assert b["labels"][0].tolist() == [7, 8, 1, 4, 1, IGNORE, IGNORE, IGNORE]


def test_length_grouped_rows_group_similar_lengths():
    pairs = random_pairs(400, max_in=60)
    rows = length_grouped_rows(pairs, 8, seed=0)
    assert sorted(r[0] for r in rows) == list(range(400))
    grouped = [max(len(pairs[r[0]][0]) for r in rows[i : i + 8]) for i in range(0, 400, 8)]
    rnd = random.Random(1)
    shuffled = list(range(400))
    rnd.shuffle(shuffled)
    naive = [max(len(pairs[i][0]) for i in shuffled[j : j + 8]) for j in range(0, 400, 8)]
    assert sum(grouped) < 0.8 * sum(naive)  # far less padding than random batches


def test_fill_grouped_rows_keep_every_row_and_cut_decoder_padding():
    pairs = random_pairs(600, max_in=30, seed=5)
    rows = pack_rows(pairs, 64, 24)
    grouped = fill_grouped_rows(pairs, rows, 8, seed=0)
    assert sorted(map(tuple, grouped)) == sorted(map(tuple, rows))  # a reordering, nothing lost
    assert grouped == fill_grouped_rows(pairs, rows, 8, seed=0)  # deterministic for a seed
    assert grouped != fill_grouped_rows(pairs, rows, 8, seed=1)

    def widths(order):
        return sum(collate(pairs, order[i : i + 8])["labels"].shape[1] for i in range(0, len(order) - 7, 8))

    assert widths(grouped) < 0.9 * widths(rows)  # batches pad the decoder less than in pack order


@pytest.mark.parametrize("normalization", ["token", "sequence"])
def test_packed_loss_equals_unpacked(normalization):
    torch.manual_seed(0)
    model = T5(small_config(feed_forward_proj="gated-gelu", tie_word_embeddings=False)).eval()
    objective = Seq2SeqObjective(model, normalization, z_loss=1e-3)
    pairs = random_pairs(24, seed=3)
    packed_rows = pack_rows(pairs, 40, 14)
    assert any(len(r) > 1 for r in packed_rows)
    one_per_row = [[i] for i in range(len(pairs))]
    with torch.no_grad():
        packed, single = collate(pairs, packed_rows), collate(pairs, one_per_row)
        w = batch_weight(packed["labels"], packed["decoder_segment_ids"], normalization)
        assert w == pytest.approx(
            batch_weight(single["labels"], single["decoder_segment_ids"], normalization)
        )
        a, b = objective(packed, w), objective(single, w)
    assert a.loss.item() == pytest.approx(b.loss.item(), rel=1e-5)
    assert a.z_sum.item() == pytest.approx(b.z_sum.item(), rel=1e-5)
    assert a.z_sum.item() > 0
    if normalization == "sequence":
        assert w == pytest.approx(len(pairs))


def test_sequence_normalization_differs_from_token_mean():
    torch.manual_seed(0)
    model = T5(small_config()).eval()
    pairs = random_pairs(12, seed=5)
    batch = collate(pairs, pack_rows(pairs, 40, 14))
    with torch.no_grad():
        tok = Seq2SeqObjective(model, "token")(batch, batch_weight(batch["labels"], None, "token")).loss
        seq = Seq2SeqObjective(model, "sequence")(
            batch, batch_weight(batch["labels"], batch["decoder_segment_ids"], "sequence")
        ).loss
    assert abs(tok.item() - seq.item()) > 1e-4


def test_span_corruption_reconstructs_and_has_density():
    rnd = random.Random(0)
    tokens = list(range(10, 210))
    sentinels = list(range(399, 299, -1))
    inputs, targets = span_corrupt(tokens, sentinels, rnd)
    assert inputs[-1] == 1 and targets[-1] == 1
    noise = [t for t in targets[:-1] if t not in sentinels]
    assert len(noise) == 30  # 15% of 200
    spans = [t for t in targets if t in sentinels]
    assert 5 <= len(spans) <= 15 and spans == sentinels[: len(spans)]
    fill = {}  # put the spans back where their sentinels are
    current = None
    for t in targets[:-1]:
        if t in sentinels:
            current = t
            fill[t] = []
        else:
            fill[current].append(t)
    rebuilt = [x for t in inputs[:-1] for x in (fill.get(t, [t]))]
    assert rebuilt == tokens


def test_chunk_length_fits_t5_lengths():
    n = chunk_length(512, 114)
    assert 560 <= n <= 575  # T5 uses 568 raw tokens for 512 inputs


def test_set_dropout_turns_on_dropout_of_a_model_built_without():
    from flankit.training.trainer import set_dropout

    torch.manual_seed(0)
    model = T5(small_config(dropout_rate=0.0)).train()
    ids = torch.randint(3, 90, (2, 9))
    logits = lambda: model(input_ids=ids, decoder_input_ids=ids).logits  # noqa: E731
    assert torch.equal(logits(), logits())
    set_dropout(model, 0.3)
    assert model.config.dropout_rate == 0.3 and not torch.equal(logits(), logits())
    model.eval()
    assert torch.equal(logits(), logits())


def test_batch_plan_groups_packed_rows_only_when_asked():
    from flankit.training.config import DataSection
    from flankit.training.data import BatchPlan

    pairs = random_pairs(600, max_in=30, seed=5)
    plain = BatchPlan(pairs, DataSection(input_length=64, target_length=24, pack=True), 8)
    grouped = BatchPlan(pairs, DataSection(input_length=64, target_length=24, group_packed=True), 8)
    steps = range(plain.steps_per_epoch)

    def width(plan, s):
        return collate(pairs, plan.step_rows(s))["labels"].shape[1]

    seen = [tuple(r) for s in steps for r in grouped.step_rows(s)]
    assert len(set(seen)) == len(seen) == 8 * len(steps)  # no row twice in an epoch
    assert set(seen) <= {tuple(r) for r in plain.packed}  # the same packed rows, reordered
    assert sum(width(grouped, s) for s in steps) < 0.9 * sum(width(plain, s) for s in steps)


class WordTokenizer:
    """One id per whitespace word (3 + word length) and `</s>` (1) at the end, like T5's tokenizer."""

    eos_token_id = 1

    def __call__(self, texts, add_special_tokens=True):
        return {"input_ids": [[3 + len(w) for w in t.split()] + [1] for t in texts]}


def test_tokenize_pairs_counts_over_long_examples_and_cuts_or_drops_them():
    from collections import Counter

    from flankit.data.features import tokenize_pairs

    records = [
        {"inputs": "a b c", "targets": "x"},  # 4 input tokens, 2 target tokens: fits
        {"inputs": "a b c d e f", "targets": "x"},  # input over 5
        {"inputs": "a", "targets": "x y z w"},  # target over 3
    ]
    cut: Counter = Counter()
    pairs = tokenize_pairs(records, WordTokenizer(), 5, 3, chunk=2, cut=cut)
    assert cut == Counter(inputs=1, targets=1)
    assert [len(x) for x, _ in pairs] == [4, 5, 2] and [len(y) for _, y in pairs] == [2, 2, 3]
    assert all(x[-1] == 1 and y[-1] == 1 for x, y in pairs)  # a cut sequence keeps its </s>
    cut = Counter()
    kept = tokenize_pairs(records, WordTokenizer(), 5, 3, cut=cut, overlong="drop")
    assert kept == pairs[:1] and cut == Counter(inputs=1, targets=1, dropped=2)


def test_word_dropout_replaces_a_share_of_tokens_and_spares_padding_and_eos():
    ids = torch.randint(3, 500, (64, 96))
    ids[:, 80:] = 0  # padding
    ids[:, 79] = 1  # end of sequence
    assert drop_tokens(ids, 0.0, 2, (0, 1)) is ids
    torch.manual_seed(0)
    out = drop_tokens(ids, 0.2, 2, (0, 1))
    hit = out != ids
    assert (out[hit] == 2).all() and not hit[:, 79:].any()
    assert 0.18 < hit[:, :79].float().mean().item() < 0.22
    torch.manual_seed(0)
    assert torch.equal(drop_tokens(ids, 0.2, 2, (0, 1)), out)  # the step's seed decides
