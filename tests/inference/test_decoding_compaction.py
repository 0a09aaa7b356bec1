"""Finished rows leave the running batch lazily; `DecodeState.select` copies only what moves;
beams (grouped rows) share one cross-attention row."""

from __future__ import annotations

import random

import torch

from flankit import Engine
from flankit.inference.decoding import pad_ids
from flankit.modeling.decoding_cache import DecodeState
from flankit.modeling.t5 import T5
from t5_testing import WORDS, hf_model

# 1 to 8 words: the trained model answers with the words reversed, so rows end at five
# different steps (a few run to the length limit)
PROMPTS = [" ".join(random.Random(i).sample(WORDS[:24], 1 + i % 8)) for i in range(16)]


def test_lazy_compaction_keeps_greedy_equal_to_transformers(trained_dir, monkeypatch):
    engine = Engine.from_pretrained(trained_dir)
    tok = engine.tokenizer
    enc = tok(PROMPTS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        out = hf_model(trained_dir).generate(**enc, do_sample=False, max_new_tokens=12)
    ref = [row[: row.index(1)] if 1 in row else row for row in out[:, 1:].tolist()]
    calls = []
    real_select = DecodeState.select

    def counted(self, rows, **kw):
        calls.append((self.batch_size, len(rows)))
        return real_select(self, rows, **kw)

    monkeypatch.setattr(DecodeState, "select", counted)
    got = engine.generate(PROMPTS, max_new_tokens=12)
    assert [g.token_ids for g in got] == ref
    ends = {len(g.token_ids) for g in got if g.finish_reason == "stop"}
    assert len(ends) >= 4  # rows really finish at different steps...
    assert 0 < len(calls) < len(ends)  # ...yet the batch is compacted fewer times than that,
    assert all(0 < (before - after) * 4 >= before for before, after in calls)  # a quarter at a time


def test_select_reuses_unmoved_caches_and_picks_cross_rows_apart(trained_dir):
    model = T5.from_pretrained(trained_dir)
    ids, mask = pad_ids([[5, 9, 13, 1], [7, 1], [4, 8, 15, 1]], 0)
    with torch.inference_mode():
        state = model.start_decoding(model.encode(ids, mask), mask, max_length=3)
        model.decode_step(state, torch.zeros(3, dtype=torch.long))
        same = state.select(torch.arange(3))
        beams = state.select(torch.tensor([2, 0]), cross_rows=torch.tensor([1, 1]))
    assert same.self_k[0] is state.self_k[0] and same.cross_v[0] is state.cross_v[0]
    assert same.length == beams.length == 1
    written = slice(0, state.length)  # later positions are unwritten (uninitialised) memory
    assert torch.equal(beams.self_k[0][:, :, written], state.self_k[0][[2, 0], :, written])
    assert torch.equal(beams.cross_k[0], state.cross_k[0][[1, 1]])
    assert torch.equal(beams.cross_bias, state.cross_bias[[1, 1]])


def test_grouped_rows_share_cross_attention_exactly(trained_dir):
    model = T5.from_pretrained(trained_dir)
    ids, mask = pad_ids([[5, 9, 13, 1], [7, 1], [4, 8, 15, 1]], 0)
    tokens = torch.tensor([[0] * 6, [5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16]])
    with torch.inference_mode():
        enc = model.encode(ids, mask)
        grouped = model.start_decoding(enc, mask, max_length=3, group=2)
        copied = model.start_decoding(enc.repeat_interleave(2, 0), mask.repeat_interleave(2, 0), max_length=3)
        assert grouped.cross_k[0].shape[0] == 3 and grouped.batch_size == copied.batch_size == 6
        a = [model.decode_step(grouped, tokens[0]), model.decode_step(copied, tokens[0])]
        # prompt 1 leaves and the beams of prompt 2 swap: cross rows are picked per prompt
        grouped = grouped.select(torch.tensor([1, 0, 5, 4]), cross_rows=torch.tensor([0, 2]))
        copied = copied.select(torch.tensor([1, 0, 5, 4]))
        b = [model.decode_step(grouped, tokens[1, :4]), model.decode_step(copied, tokens[1, :4])]
    assert grouped.cross_k[0].shape[0] == 2
    assert torch.allclose(*a, atol=1e-5) and torch.allclose(*b, atol=1e-5)
    assert not torch.allclose(b[0][0], b[0][2], atol=1e-3)  # different prompts, different logits
