"""The engine's fast paths equal the plain ones: fused projections, length-sorted chunked
encoding, and int8 quantization of every Linear (the lm_head included)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import t5_testing
from flankit.inference.decoding import encode_padded, pad_ids
from flankit.modeling.quantize import quantize_int8
from flankit.modeling.t5 import T5

PROMPTS = [[5, 9, 13, 1], [7, 1], [4, 4, 8, 15, 16, 23, 42, 1], [11, 12, 1]]


@pytest.fixture(scope="module")
def models(trained_dir):
    plain = T5.from_pretrained(trained_dir)
    return plain, T5.from_pretrained(trained_dir).fuse_projections()


def greedy_logits(model, steps=6):
    return t5_testing.greedy_logits(model, PROMPTS, steps)


def test_fused_projections_match_plain_model(models):
    plain, fused = models
    a, b = greedy_logits(plain), greedy_logits(fused)
    assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
    assert torch.equal(a.argmax(-1), b.argmax(-1))
    ids, mask = pad_ids(PROMPTS, 0)
    with torch.inference_mode():
        assert torch.allclose(plain.encode(ids, mask), fused.encode(ids, mask), atol=1e-5)


def test_fused_copies_are_not_saved(models, tmp_path):
    from safetensors.torch import load_file

    _, fused = models
    assert any("_fused." in k for k in fused.state_dict())
    fused.save_pretrained(tmp_path)
    keys = set(load_file(str(tmp_path / "model.safetensors")))
    assert not any("_fused" in k for k in keys)
    reloaded = T5.from_pretrained(tmp_path)  # strict load: the same keys as an unfused model
    assert torch.allclose(greedy_logits(reloaded), greedy_logits(fused), atol=1e-4)


def test_chunked_encoding_equals_one_padded_batch(models):
    _, model = models
    ids, mask = pad_ids(PROMPTS, 0)
    with torch.inference_mode():
        ref = model.encode(ids, mask)
        enc, m = encode_padded(model, PROMPTS, chunk_tokens=8)  # forces several chunks
    assert torch.equal(m, mask)
    real = mask.bool()
    assert torch.allclose(enc[real], ref[real], atol=1e-5)  # padding is masked, its values unused


def test_int8_quantizes_every_linear_including_fused_and_head(trained_dir):
    model = quantize_int8(T5.from_pretrained(trained_dir).fuse_projections())
    assert not [n for n, m in model.named_modules() if type(m) is nn.Linear]
    head = model.lm_head if hasattr(model, "lm_head") else model.head_fused
    assert hasattr(head, "_packed_params")  # the vocabulary projection is int8 too
    assert hasattr(model.decoder.block[0].layer[0].SelfAttention.qkv_fused, "_packed_params")
    ref = greedy_logits(T5.from_pretrained(trained_dir))
    out = greedy_logits(model)
    # the first step sees the same inputs on both sides (later steps feed back their own picks)
    assert (ref[:, 0].argmax(-1) == out[:, 0].argmax(-1)).sum() >= len(PROMPTS) - 1
    assert torch.isfinite(out).all()


def test_bf16_cross_cache_stays_close_to_fp32(trained_dir):
    model = T5.from_pretrained(trained_dir)
    ref = greedy_logits(model)
    model.cross_cache_dtype = torch.bfloat16
    out = greedy_logits(model)
    ids, mask = pad_ids(PROMPTS, 0)
    with torch.inference_mode():
        state = model.start_decoding(model.encode(ids, mask), mask, max_length=2)
    assert state.cross_k[0].dtype == torch.bfloat16 and state.self_k[0].dtype == torch.float32
    assert out.dtype == torch.float32
    assert torch.equal(ref[:, 0].argmax(-1), out[:, 0].argmax(-1))
    assert (ref[:, 0] - out[:, 0]).abs().max() < 0.05 * ref[:, 0].abs().max()
