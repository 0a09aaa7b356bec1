"""Shared helpers for tests that need tiny random T5 models and padded batches."""

from __future__ import annotations

import torch

from flankit.modeling.t5 import T5Config

CONFIGS = {
    "v1_0_relu_tied": dict(feed_forward_proj="relu", tie_word_embeddings=True),
    "v1_1_gated_untied": dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False),
    "dkv_heads_ne_dmodel": dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False, d_kv=12, num_heads=3),
}


def small_config(**kw) -> T5Config:
    base = dict(
        vocab_size=97, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, relative_attention_max_distance=20, dropout_rate=0.0,
    )
    base.update(kw)
    return T5Config(**base)


def hf_model(folder):
    from transformers import T5ForConditionalGeneration

    return T5ForConditionalGeneration.from_pretrained(folder).eval()


def padded_batch(vocab: int, lengths: list[int], seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.zeros(len(lengths), width, dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(3, vocab, (n,), generator=g)
    return ids, (ids != 0).long()
