"""The int8 engine's fast paths give the plain paths' results: compiled kernels, whole-cache
self-attention that grows, cross K/V projected in trimmed chunks, the blocked argmax, and the
per-tensor vocabulary head."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import t5_testing
from flankit.inference.decoding import argmax_rows, pad_ids
from flankit.modeling import decoding_cache, kernels
from flankit.modeling.quantize import one_scale_fits, quantize_int8
from flankit.modeling.t5 import T5
from t5_testing import CONFIGS, small_config

# lengths 7, 2, 5, 3: rows of a batch end at different columns (padding to trim)
PROMPTS = [[5, 9, 13, 21, 30, 44, 1], [7, 1], [4, 8, 15, 16, 1], [11, 12, 1]]


def reference_attention(q, keys, values, bias):
    scores = torch.matmul(q, keys.float().transpose(-1, -2)) + bias
    return torch.matmul(torch.softmax(scores, -1), values.float())


@pytest.mark.parametrize("group", [1, 3])
def test_compiled_attention_equals_matmul_attention(group):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(4, 2, group, 8, generator=g)
    keys, values = (torch.randn(4, 2, 11, 8, generator=g).bfloat16() for _ in range(2))
    bias = torch.zeros(4, 1, 1, 11).masked_fill(
        torch.arange(11) >= torch.tensor([11, 3, 7, 1])[:, None, None, None], -1e9
    )
    attention = kernels.fused(kernels.attention)
    out = attention(q, keys, values, bias)
    assert out.dtype == torch.float32 and out.shape == (4, 2, group, 8)
    assert torch.allclose(out, reference_attention(q, keys, values, bias), atol=1e-5)
    pos = torch.randn(1, 2, 1, 11, generator=g)  # the self-attention form of the bias
    assert torch.allclose(
        attention(q, keys, values, pos), reference_attention(q, keys, values, pos), atol=1e-5
    )


def test_compiled_gated_gelu_equals_tanh_gelu():
    x = torch.randn(3, 5, 64) * 4
    gate, lin = x.chunk(2, -1)
    assert torch.allclose(kernels.gated_gelu(x), F.gelu(gate, approximate="tanh") * lin, atol=1e-5)


def test_fused_falls_back_to_eager_when_compiling_fails(monkeypatch):
    def broken(fn, **kw):
        def run(*args):
            raise RuntimeError("no compiler")

        return run

    monkeypatch.setattr(torch, "compile", broken)
    double = kernels.fused(lambda x: 2 * x)
    with pytest.warns(UserWarning, match="torch.compile failed"):
        assert torch.equal(double(torch.ones(2)), torch.full((2,), 2.0))
    assert torch.equal(double(torch.ones(1)), torch.full((1,), 2.0))  # eager from now on, no warning


def greedy_logits(model, steps):
    return t5_testing.greedy_logits(model, PROMPTS, steps)


def gated() -> T5:
    torch.manual_seed(0)
    return T5(small_config(**CONFIGS["v1_1_gated_untied"])).eval().fuse_projections()


@pytest.fixture(scope="module")
def gated_model():
    return gated()


def test_fused_decoding_equals_eager_and_its_self_cache_grows(gated_model, monkeypatch):
    ref = greedy_logits(gated_model, steps=7)
    monkeypatch.setattr(decoding_cache, "SELF_BLOCK", 2)  # grows 2 -> 4 -> 7 positions
    fused = gated().use_fused_kernels()
    assert fused.decoder.block[0].layer[-1].DenseReluDense.fused_act
    for block in fused.encoder.block:  # the same encoder states: compare the decoding kernels alone
        block.layer[0].SelfAttention.bf16_matmuls = False
    out = greedy_logits(fused, steps=7)
    ids, mask = pad_ids(PROMPTS, 0)
    with torch.inference_mode():
        state = fused.start_decoding(fused.encode(ids, mask), mask, max_length=7)
        for _ in range(3):
            fused.decode_step(state, torch.zeros(len(PROMPTS), dtype=torch.long))
    assert state.self_k[0].shape[2] == 4  # doubled once, at the third step
    assert torch.allclose(out, ref, atol=1e-4, rtol=1e-4)
    assert torch.equal(out.argmax(-1), ref.argmax(-1))


def test_bf16_encoder_attention_stays_close_to_fp32(gated_model):
    fast = gated().use_fused_kernels()
    assert all(b.layer[0].SelfAttention.bf16_matmuls for b in fast.encoder.block)
    assert not any(b.layer[0].SelfAttention.bf16_matmuls for b in fast.decoder.block)
    ids, mask = pad_ids(PROMPTS, 0)
    with torch.inference_mode():
        ref, out = gated_model.encode(ids, mask), fast.encode(ids, mask)
    real = mask.bool()
    assert out.dtype == torch.float32 and not torch.equal(out[real], ref[real])  # bf16 did run
    assert (out[real] - ref[real]).abs().max() < 0.02 * ref[real].abs().max()


def test_trimmed_chunked_cross_projection_equals_one_projection(gated_model, monkeypatch):
    ids, mask = pad_ids(sorted(PROMPTS, key=len, reverse=True), 0)  # the engine's order
    ref = greedy_logits(gated_model, 3)
    with torch.inference_mode():
        enc = gated_model.encode(ids, mask)
        whole = gated_model.start_decoding(enc, mask, max_length=2)
        monkeypatch.setattr(decoding_cache, "PROJECT_TOKENS", 7)
        chunks = list(decoding_cache._projection_chunks(mask))
        pieces = gated_model.start_decoding(enc, mask, max_length=2)
    # about 7 padded positions per GEMM, each only as wide as its longest row (7, 5, then 3 and 2)
    assert [(c.start, c.stop, w) for c, w in chunks] == [(0, 1, 7), (1, 2, 5), (2, 4, 3)]
    real = mask.bool()[:, None, :, None].expand_as(whole.cross_k[0])
    for a, b in zip(whole.cross_k + whole.cross_v, pieces.cross_k + pieces.cross_v, strict=True):
        assert torch.allclose(a[real], b[real], atol=1e-6)
        for rows, width in chunks:
            assert not b[rows, :, width:].any()  # never projected: zero, and masked in attention
    assert torch.allclose(greedy_logits(gated_model, 3), ref, atol=1e-5)  # other chunks, same logits


def test_blocked_argmax_equals_argmax_ties_and_odd_vocab_included():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(5, 512, generator=g)
    scores[0, [3, 300]] = 9.0  # a tie across blocks: the first one wins
    scores[1, [130, 131]] = 9.0  # a tie inside a block
    scores[2, 200] = float("nan")  # argmax takes NaN as the maximum
    assert torch.equal(argmax_rows(scores), scores.argmax(-1))
    assert argmax_rows(scores)[:3].tolist() == [3, 130, 200]
    odd = torch.randn(3, 97, generator=g)
    assert torch.equal(argmax_rows(odd), odd.argmax(-1))


def test_head_takes_one_scale_only_when_rows_are_alike(gated_model):
    alike = torch.randn(64, 16)
    outlier = alike.clone()
    outlier[5] *= 10
    assert one_scale_fits(alike) and not one_scale_fits(outlier)
    torch.manual_seed(0)
    model = quantize_int8(T5(small_config(**CONFIGS["v1_1_gated_untied"])).eval().fuse_projections())
    assert model.lm_head.weight().qscheme() == torch.per_tensor_affine
    assert (
        model.decoder.block[0].layer[0].SelfAttention.qkv_fused.weight().qscheme() == torch.per_channel_affine
    )


def test_int8_engine_greedy_and_beams_track_fp32_across_cache_growth(trained_dir, toy_prompts, monkeypatch):
    from flankit import Engine

    monkeypatch.setattr(decoding_cache, "SELF_BLOCK", 2)  # doubles at steps 2 and 4
    ref, eng = Engine.from_pretrained(trained_dir), Engine.from_pretrained(trained_dir, dtype="int8")
    assert eng.backend.model.fused_kernels and eng.backend.model.cross_cache_dtype == torch.bfloat16
    for kw in (dict(max_new_tokens=8), dict(max_new_tokens=8, num_beams=3)):
        a, b = ref.generate(toy_prompts, **kw), eng.generate(toy_prompts, **kw)
        assert sum(x.token_ids == y.token_ids for x, y in zip(a, b, strict=True)) >= len(toy_prompts) - 1
        assert max(len(y.token_ids) for y in b) >= 4  # 4 tokens + EOS: five steps, both growths


@pytest.mark.parametrize("quantized", [False, True])
def test_linear_op_runs_the_registered_linear_until_its_module_is_freed(quantized):
    import gc

    from torch import nn

    lin = nn.Sequential(nn.Linear(16, 24, bias=False))
    if quantized:
        lin = quantize_int8(lin)
    slot, width = kernels.linear_slot(lin[0])
    x = torch.randn(3, 1, 16)
    assert width == 24
    assert torch.equal(kernels.linear(x, torch.tensor([7, slot]), 1, width), lin[0](x))
    del lin
    gc.collect()
    assert slot not in kernels._LINEARS  # a dropped model frees its weights
