"""Blocked attention over packed rows computes what dense masked attention computes."""

from __future__ import annotations

import contextlib
import random

import pytest
import torch

from flankit.data.features import collate, pack_rows
from flankit.modeling import segments
from flankit.modeling.t5 import T5
from flankit.training.objectives import Seq2SeqObjective
from t5_testing import small_config


def packed_batch(seed: int = 0, input_length: int = 96, rows: int = 6):
    """Packed rows of examples 3..90 tokens long: several block widths, rows with one to many
    segments and trailing padding."""
    rnd = random.Random(seed)
    pairs = [
        (
            [rnd.randrange(3, 97) for _ in range(rnd.choice([3, 9, 17, 30, 47, 90]) - 1)] + [1],
            [rnd.randrange(3, 97) for _ in range(rnd.randint(1, 5))] + [1],
        )
        for _ in range(40)
    ]
    return collate(pairs, pack_rows(pairs, input_length, 24)[:rows])


def test_segment_spans_of_contiguous_and_broken_layouts():
    seg = torch.tensor([[1, 1, 2, 2, 2, 0], [1, 1, 1, 1, 1, 1]])
    starts, lengths = segments.segment_spans(seg)
    assert starts.tolist() == [0, 2, 6] and lengths.tolist() == [2, 3, 6]
    assert segments.segment_spans(torch.tensor([[1, 2, 1, 0]])) is None  # segment 1 split in two


def test_dense_is_kept_where_blocks_do_not_pay_or_cannot_express_the_rows():
    bias = lambda q, k: torch.zeros(1, 4, q, k)  # noqa: E731
    one_per_row = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    assert segments.encoder_bias(one_per_row, bias, torch.float32) is None
    assert segments.encoder_bias(torch.tensor([[1, 2, 1, 2]]), bias, torch.float32) is None
    packed = torch.tensor([[1, 1, 2, 2, 2, 0]])
    with segments.dense_attention():
        assert segments.encoder_bias(packed, bias, torch.float32) is None
    blocked = segments.encoder_bias(packed, bias, torch.float32)
    assert blocked is not None and blocked.widths == [6]  # both segments rounded up, capped at the row


def test_blocks_round_trip_every_real_token_and_zero_the_padding():
    batch = packed_batch()
    seg = batch["encoder_segment_ids"]
    blocked = segments.encoder_bias(seg, lambda q, k: torch.zeros(1, 1, q, k), torch.float32)
    assert len(blocked.widths) >= 3  # the batch exercises several block widths
    x = torch.randn(*seg.shape, 5)
    back = blocked.scatter(blocked.gather(x))
    real = seg > 0
    assert torch.equal(back[real], x[real])
    assert (back[~real] == 0).all()


def _loss_and_grads(model, batch, dense: bool, autocast: bool = False):
    with segments.dense_attention() if dense else contextlib.nullcontext():
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = Seq2SeqObjective(model, "token")(batch, 1.0).loss
        loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize(
    "arch",
    [
        dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False),
        dict(feed_forward_proj="relu", tie_word_embeddings=True),
    ],
)
def test_blocked_training_step_equals_dense(arch):
    torch.manual_seed(0)
    model = T5(small_config(**arch)).train()  # dropout 0: the two paths draw no random masks
    batch = packed_batch()
    assert (
        segments.encoder_bias(
            batch["encoder_segment_ids"], lambda q, k: torch.zeros(1, 4, q, k), torch.float32
        )
        is not None
    )
    loss_b, grads_b = _loss_and_grads(model, batch, dense=False)
    loss_d, grads_d = _loss_and_grads(model, batch, dense=True)
    assert loss_b == pytest.approx(loss_d, rel=1e-5)
    for name, g in grads_d.items():
        assert torch.allclose(grads_b[name], g, atol=1e-5, rtol=1e-4), name
    # the relative position table is trained through the blocks too
    table = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
    assert grads_b[table].abs().sum() > 0


def test_blocked_training_step_under_bf16_autocast_stays_close_to_dense():
    torch.manual_seed(0)
    model = T5(small_config(feed_forward_proj="gated-gelu", tie_word_embeddings=False)).train()
    batch = packed_batch(seed=1)
    loss_b, grads_b = _loss_and_grads(model, batch, False, autocast=True)
    loss_d, grads_d = _loss_and_grads(model, batch, True, autocast=True)
    assert loss_b == pytest.approx(loss_d, rel=2e-2)
    flat_b = torch.cat([g.flatten() for g in grads_b.values()])
    flat_d = torch.cat([g.flatten() for g in grads_d.values()])
    assert torch.nn.functional.cosine_similarity(flat_b, flat_d, dim=0) > 0.99


def test_blocked_encoder_with_dropout_is_deterministic_for_a_seed():
    model = T5(
        small_config(feed_forward_proj="gated-gelu", tie_word_embeddings=False, dropout_rate=0.1)
    ).train()
    batch = packed_batch(seed=2)
    outs = []
    for _ in range(2):
        torch.manual_seed(5)
        outs.append(model.encode(batch["input_ids"], segment_ids=batch["encoder_segment_ids"]))
    assert torch.equal(outs[0], outs[1])
