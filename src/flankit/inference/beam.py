"""Beam search for the native backend, step-for-step the same algorithm as transformers' `generate`.

How: each prompt keeps `num_beams` running hypotheses. Every step adds the next-token
log-probabilities to the running scores, takes the top 2*num_beams continuations over all
beams, sends those that end (EOS or the length limit) to the finished pool with the score
`sum log p / generated_length ** length_penalty` (only the first num_beams candidates may
finish, as in transformers), and continues the best num_beams unfinished ones. A prompt stops
once its pool is full and the best running hypothesis cannot beat the worst finished one at
its current length (transformers' `early_stopping=False` heuristic); its rows then leave the
running batch via `DecodeState.select`, and the self-attention cache follows beam parents the
same way. The beams of a prompt share one copy of its cross-attention K/V (`group=num_beams`).

Reference: transformers `GenerationMixin._beam_search` (vectorised beam search, v4.50+).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from flankit.inference.decoding import DecodeResult, TokenTrie, encode_padded, process_logits

BIG = 1.0e9


def _gather(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Pick along dim 1 of [B, K, ...] with [B, K'] indices."""
    while idx.dim() < t.dim():
        idx = idx.unsqueeze(-1)
    return t.gather(1, idx.expand(*idx.shape[:2], *t.shape[2:]))


def _trie_mask(trie: TokenTrie, seqs: torch.Tensor, step: int, vocab: int) -> torch.Tensor:
    nodes = []
    for row in seqs[:, :step].tolist():
        node = trie.root
        for tok in row:
            node = node.get(tok, {})
        nodes.append(node or {0: {}})  # a dead branch (never kept) still needs one finite token
    return trie.mask(nodes, vocab)


@torch.inference_mode()
def beam_search(
    model, prompts: Sequence[Sequence[int]], cfg, *, trie: TokenTrie | None = None
) -> list[list[DecodeResult]]:
    """Beam-search one bucket of prompts; per prompt the best `cfg.num_return_sequences` results."""
    c = model.config
    k, steps, eos, lp = cfg.num_beams, cfg.max_new_tokens, c.eos_token_id, cfg.length_penalty
    enc, mask = encode_padded(model, prompts)
    b = enc.shape[0]
    state = model.start_decoding(enc, mask, max_length=steps, group=k)
    live = torch.arange(b)  # original prompt index of each running item
    run_seq = torch.full((b, k, steps), c.pad_token_id, dtype=torch.long)
    run_scores = torch.zeros(b, k)
    run_scores[:, 1:] = -BIG  # all beams start identical: only the first one may expand
    fin_seq, fin_scores = run_seq.clone(), torch.full((b, k), -BIG)
    fin_done = torch.zeros(b, k, dtype=torch.bool)
    unsat = torch.ones(b, 1, dtype=torch.bool)
    top_mask = torch.arange(2 * k) < k
    tokens = torch.full((b * k,), c.decoder_start_token_id, dtype=torch.long)
    results: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for t in range(steps):
        n = live.numel()
        logp = model.decode_step(state, tokens).float().log_softmax(-1)
        logp = process_logits(logp, run_seq.view(n * k, steps), t, cfg, eos)
        vocab = logp.shape[-1]
        if trie:
            logp = logp + _trie_mask(trie, run_seq.view(n * k, steps), t, vocab)
        acc = (logp.view(n, k, vocab) + run_scores[:, :, None]).view(n, k * vocab)
        top_lp, top_idx = acc.topk(2 * k)
        parent, tok = top_idx // vocab, top_idx % vocab
        cand = _gather(run_seq, parent).clone()
        cand[:, :, t] = tok
        hits = (tok == eos) | (t + 1 >= steps)
        # continue with the best unfinished candidates
        run_lp = top_lp + hits.float() * -BIG
        nxt = run_lp.topk(k).indices
        run_seq, run_scores, beam_parent = _gather(cand, nxt), run_lp.gather(1, nxt), parent.gather(1, nxt)
        # merge newly finished candidates into the pool
        just = hits & top_mask[None]
        norm = top_lp / ((t + 1) ** lp)
        norm = norm + (~unsat).float() * -BIG
        norm = norm + (~just).float() * -BIG
        m_scores = torch.cat([fin_scores, norm], 1)
        sel = m_scores.topk(k).indices
        fin_seq = _gather(torch.cat([fin_seq, cand], 1), sel)
        fin_scores = m_scores.gather(1, sel)
        fin_done = torch.cat([fin_done, just], 1).gather(1, sel)
        # can a running beam still beat the worst finished one?
        best = run_scores[:, :1] / ((t + 1) ** lp)
        worst = torch.where(fin_done, fin_scores.min(1, keepdim=True).values, torch.tensor(-BIG))
        unsat = unsat & (best > worst).any(-1, keepdim=True)
        over = ~unsat[:, 0]
        if bool(hits.all()) or bool(over.all()):
            over[:] = True
        for r in over.nonzero().squeeze(1).tolist():
            results[int(live[r])] = (fin_seq[r], fin_scores[r])
        flat_parent = (beam_parent + torch.arange(n)[:, None] * k).view(-1)
        if over.all():
            break
        keep = (~over).nonzero().squeeze(1)
        if over.any():
            flat_parent = flat_parent.view(n, k)[keep].view(-1)
            live, run_seq, run_scores, unsat = live[keep], run_seq[keep], run_scores[keep], unsat[keep]
            fin_seq, fin_scores, fin_done = fin_seq[keep], fin_scores[keep], fin_done[keep]
        # the beams of a prompt share its cross K/V: they move only when a prompt leaves
        state = state.select(flat_parent, cross_rows=keep)
        tokens = run_seq[:, :, t].reshape(-1)
    return [_finish(*results[i], cfg.num_return_sequences, eos) for i in range(b)]


def _finish(seqs: torch.Tensor, scores: torch.Tensor, n: int, eos: int) -> list[DecodeResult]:
    out = []
    for seq, score in zip(seqs[:n].tolist(), scores[:n].tolist(), strict=True):
        if eos in seq:
            out.append(DecodeResult(seq[: seq.index(eos)], "stop", score))
        else:
            out.append(DecodeResult(seq, "length", score))
    return out
