"""Shared helpers for tests that need tiny random T5 models and padded batches."""

from __future__ import annotations

import torch

from flankit.modeling.t5 import T5Config

CONFIGS = {
    "v1_0_relu_tied": dict(feed_forward_proj="relu", tie_word_embeddings=True),
    "v1_1_gated_untied": dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False),
    "dkv_heads_ne_dmodel": dict(
        feed_forward_proj="gated-gelu", tie_word_embeddings=False, d_kv=12, num_heads=3
    ),
}


def small_config(**kw) -> T5Config:
    base = dict(
        vocab_size=97,
        d_model=32,
        d_kv=8,
        d_ff=48,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=20,
        dropout_rate=0.0,
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


WORDS = "the a an cat dog bird sat ran flew on over under mat hill tree happy sad angry movie film book great awful fine plot actor story because while and or not yes no maybe positive negative neutral question answer is was will be one two three four five six seven eight nine ten plus minus".split()


def tiny_model_dir(folder, seed: int = 0, **overrides):
    """Save a random tiny T5 (d_model 32) plus a tokenizer trained on filler text to `folder`.

    Returns (model, tokenizer). Used by engine, trainer, evaluation and serving tests.
    """
    import random

    from flankit.modeling.load import train_tokenizer
    from flankit.modeling.t5 import T5

    rnd = random.Random(seed)
    texts = [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(4, 20))) for _ in range(3000)]
    tok = train_tokenizer(texts, folder, vocab_size=300)
    torch.manual_seed(seed)
    model = T5(small_config(vocab_size=len(tok), **overrides)).eval()
    model.save_pretrained(folder)
    return model, tok


def greedy_logits(model, prompts, steps: int) -> torch.Tensor:
    """[rows, steps, V] logits of `model`'s cached greedy decoding of token-id `prompts`."""
    from flankit.inference.decoding import pad_ids

    ids, mask = pad_ids(prompts, 0)
    with torch.inference_mode():
        state = model.start_decoding(model.encode(ids, mask), mask, max_length=steps)
        tok, out = torch.zeros(len(prompts), dtype=torch.long), []
        for _ in range(steps):
            logits = model.decode_step(state, tok)
            out.append(logits)
            tok = logits.argmax(-1)
    return torch.stack(out, 1)
