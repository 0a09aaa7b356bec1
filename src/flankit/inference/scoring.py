"""Rank classification: the log-likelihood of each answer option, one encoder pass per prompt.

How: prompts are encoded in length-sorted buckets (`encode_padded`); `start_decoding` then
computes each prompt's cross-attention K/V once, and `DecodeState.select` copies that state to
one row per option (a memory copy, no recomputation). All options of all prompts in the bucket
are teacher-forced through the decoder in one pass (`T5.decode_tokens`), summing log p(token)
over each option's tokens (EOS included, as transformers' `labels` loss counts it).

Compared with scoring each option by a full forward pass (T0-style), this saves the encoder
and the cross K/V projections for every option after the first.

Reference: Sanh et al. 2022 (T0) and Brown et al. 2020 for rank classification by likelihood.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from flankit.inference.decoding import encode_padded, pad_ids, plan_batches


@torch.inference_mode()
def score_options(
    model,
    prompts: Sequence[Sequence[int]],
    options: Sequence[Sequence[Sequence[int]]],
    token_budget: int = 16384,
    max_batch: int = 64,
) -> list[list[tuple[float, int]]]:
    """Per prompt, per option: (summed log-likelihood, number of option tokens).

    Args:
        model: flankit T5.
        prompts: prompt token ids (EOS included).
        options: per prompt, the option token ids (EOS included).
        token_budget: padded prompt tokens x option rows allowed per bucket.
        max_batch: most prompts per bucket.
    """
    c = model.config
    most = max(len(o) for o in options)
    out: list[list[tuple[float, int]]] = [[] for _ in prompts]
    for batch in plan_batches([len(p) for p in prompts], token_budget, max_batch, rows_per_item=most):
        parents = torch.tensor([r for r, i in enumerate(batch) for _ in options[i]])
        targets = [opt for i in batch for opt in options[i]]
        tgt, tmask = pad_ids(targets, c.pad_token_id)
        steps = tgt.shape[1]
        enc, mask = encode_padded(model, [prompts[i] for i in batch])
        state = model.start_decoding(enc, mask, max_length=steps).select(parents)
        inputs = torch.cat([torch.full_like(tgt[:, :1], c.decoder_start_token_id), tgt[:, :-1]], dim=1)
        hidden = model.decode_tokens(state, inputs)  # all option tokens in one teacher-forced pass
        # the vocabulary head and its log-softmax dominate: run them on real option tokens only
        real = tmask.bool()
        logp = model.project(hidden[real]).float().log_softmax(-1)
        picked = logp.gather(1, tgt[real][:, None]).squeeze(1).double()
        total = torch.zeros(len(targets), dtype=torch.float64).index_add_(0, real.nonzero()[:, 0], picked)
        sums = total.tolist()
        k = 0
        for i in batch:
            n = len(options[i])
            out[i] = [(sums[k + j], len(options[i][j])) for j in range(n)]
            k += n
    return out
