"""Batched decoding for the native backend: greedy, sampling, penalties, stop strings, trie constraints.

How it works: prompts (token ids) are sorted by length and cut into buckets under a token
budget (`plan_batches`); each bucket is encoded once, then decoded step by step with the
model's preallocated cache. Rows that finish (EOS, a stop string, or a completed allowed
output) are dropped from the running batch with `DecodeState.select` once they make up a
quarter of it (each drop copies the cache), so late steps mostly pay for live rows. Results
come back in input order.

Logits processing follows transformers' order (repetition penalty, no-repeat n-gram, min new
tokens, then temperature, top-k, top-p for sampling) so settings mean the same thing as there.
Beam search lives in `flankit.inference.beam`.

References: Holtzman et al. 2020 (nucleus sampling); Keskar et al. 2019 (repetition penalty).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

NEG_INF = float("-inf")
# finished rows are dropped once they are 1/COMPACT_SHARE of the running batch: every drop
# copies the whole decode cache (cross-attention K/V included), which costs several steps
COMPACT_SHARE = 4
# padded tokens per encoder chunk (`encode_padded`); the int8 engine's are smaller: its
# int8 GEMMs and bf16 attention run ~10% faster when a chunk's activations stay in cache
ENCODE_TOKENS, ENCODE_TOKENS_INT8 = 2048, 512


@dataclass
class DecodeResult:
    """Generated tokens for one returned sequence (no start token, no EOS)."""

    token_ids: list[int]
    finish_reason: str  # "stop" (EOS, stop string or finished allowed output) or "length"
    score: float | None = None  # beam search: the length-normalised sequence score


class TokenTrie:
    """Prefix tree over allowed outputs (token id lists, each ending in EOS)."""

    def __init__(self, sequences: Sequence[Sequence[int]]):
        self.root: dict[int, dict] = {}
        for seq in sequences:
            node = self.root
            for tok in seq:
                node = node.setdefault(int(tok), {})

    def mask(self, nodes: list[dict], vocab: int) -> torch.Tensor:
        """[rows, vocab] additive mask: 0 for tokens that continue an allowed output, -inf elsewhere."""
        out = torch.full((len(nodes), vocab), NEG_INF)
        for r, node in enumerate(nodes):
            out[r, list(node)] = 0.0
        return out


def plan_batches(
    lengths: Sequence[int], token_budget: int, max_batch: int, rows_per_item: int = 1
) -> list[list[int]]:
    """Length-sorted buckets: each holds as many items as fit `token_budget` padded tokens.

    Longest items first, so padding inside a bucket is small; every bucket has at least one item.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        width = lengths[cur[0]] if cur else lengths[i]
        if cur and ((len(cur) + 1) * rows_per_item * width > token_budget or len(cur) + 1 > max_batch):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def pad_ids(seqs: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad to [B, width] ids and a 0/1 attention mask built from the lengths."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros(len(seqs), width, dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
        mask[r, : len(s)] = 1
    return ids, mask


def encode_padded(model, prompts: Sequence[Sequence[int]], chunk_tokens: int | None = None):
    """Encode prompts in length-sorted chunks and return them as one right-padded batch.

    One padded encoder call over prompts of mixed lengths spends much of its work on padding;
    chunks of similar length (about `chunk_tokens` padded tokens each) keep the GEMMs large
    while cutting that waste (`chunk_tokens` defaults to `ENCODE_TOKENS`, or `ENCODE_TOKENS_INT8`
    for a model with fused kernels). Returns (encoder states [B, S, d], attention mask [B, S]) with
    rows in input order, ready for `start_decoding`.
    """
    pad = model.config.pad_token_id
    if chunk_tokens is None:
        chunk_tokens = ENCODE_TOKENS_INT8 if getattr(model, "fused_kernels", False) else ENCODE_TOKENS
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    width = len(prompts[order[0]])
    enc = mask = None
    start = 0
    while start < len(order):
        rows = max(1, chunk_tokens // len(prompts[order[start]]))
        idx = order[start : start + rows]
        start += rows
        ids, m = pad_ids([prompts[i] for i in idx], pad)
        hidden = model.encode(ids, m)
        if enc is None:
            enc = hidden.new_zeros(len(prompts), width, hidden.shape[-1])
            mask = torch.zeros(len(prompts), width, dtype=torch.long)
        sel = torch.tensor(idx)
        enc[sel, : ids.shape[1]] = hidden
        mask[sel, : ids.shape[1]] = m
    return enc, mask


def process_logits(scores: torch.Tensor, history: torch.Tensor, step: int, cfg, eos: int) -> torch.Tensor:
    """Penalties and length limits on fp32 scores [rows, V]; `history` holds the tokens so far."""
    if cfg.repetition_penalty != 1.0 and step > 0:
        seen = history[:, :step]
        picked = scores.gather(1, seen)
        picked = torch.where(picked < 0, picked * cfg.repetition_penalty, picked / cfg.repetition_penalty)
        scores = scores.scatter(1, seen, picked)
    n = cfg.no_repeat_ngram_size
    if n > 0 and step + 1 >= n:
        banned = _banned_ngram_tokens(history[:, :step].tolist(), n)
        for r, toks in enumerate(banned):
            if toks:
                scores[r, list(toks)] = NEG_INF
    if step < cfg.min_new_tokens:
        scores[:, eos] = NEG_INF
    return scores


def _banned_ngram_tokens(rows: list[list[int]], n: int) -> list[set[int]]:
    """Tokens that would repeat an n-gram already present in each row."""
    out = []
    for toks in rows:
        prefix = tuple(toks[len(toks) - n + 1 :]) if n > 1 else ()
        banned = {toks[i + n - 1] for i in range(len(toks) - n + 1) if tuple(toks[i : i + n - 1]) == prefix}
        out.append(banned)
    return out


def argmax_rows(scores: torch.Tensor, width: int = 128) -> torch.Tensor:
    """`scores.argmax(-1)` for [rows, V], first maximum included, in two vectorized passes.

    torch's CPU argmax over a 32k vocabulary is a scalar loop (about 10x slower than `amax`):
    take the max of each block of `width` columns, the first block holding the row's maximum,
    then the first maximum inside it. Vocabularies that are no multiple of `width` use argmax.
    """
    rows, vocab = scores.shape
    if vocab % width:
        return scores.argmax(-1)
    block = scores.view(rows, vocab // width, width).amax(-1).argmax(-1)
    cols = block[:, None] * width + torch.arange(width, device=scores.device)
    return block * width + scores.gather(1, cols).argmax(-1)


def warp_and_sample(scores: torch.Tensor, cfg, generator: torch.Generator | None) -> torch.Tensor:
    """Temperature, top-k, top-p (nucleus), then a draw from the resulting distribution."""
    if cfg.temperature != 1.0:
        scores = scores / cfg.temperature
    if cfg.top_k and cfg.top_k < scores.shape[-1]:
        kth = scores.topk(cfg.top_k, dim=-1).values[:, -1:]
        scores = scores.masked_fill(scores < kth, NEG_INF)
    if cfg.top_p < 1.0:
        sorted_scores, idx = scores.sort(dim=-1, descending=False)
        cum = sorted_scores.softmax(-1).cumsum(-1)
        drop = cum <= (1 - cfg.top_p)
        drop[:, -1] = False  # always keep the most likely token
        scores = scores.masked_fill(drop.scatter(1, idx, drop), NEG_INF)
    probs = scores.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


class StopChecker:
    """Finds user stop strings in the decoded tail of each row (only decodes a short tail)."""

    def __init__(self, stops: Sequence[str], decode: Callable[[list[int]], str]):
        self.stops = [s for s in stops if s]
        self.decode = decode
        self.tail = max((len(s) for s in self.stops), default=0) + 4

    def __bool__(self) -> bool:
        return bool(self.stops)

    def hits(self, history: torch.Tensor, upto: int) -> list[bool]:
        tails = history[:, max(0, upto - self.tail) : upto].tolist()
        return [any(s in self.decode(t) for s in self.stops) for t in tails]


@torch.inference_mode()
def decode_batch(
    model,
    prompts: Sequence[Sequence[int]],
    cfg,
    *,
    trie: TokenTrie | None = None,
    stop: StopChecker | None = None,
    generator: torch.Generator | None = None,
) -> list[DecodeResult]:
    """Greedy or sampled decoding of one bucket; returns one result per prompt row."""
    c = model.config
    eos, steps = c.eos_token_id, cfg.max_new_tokens
    enc, mask = encode_padded(model, prompts)
    state = model.start_decoding(enc, mask, max_length=steps)
    b = enc.shape[0]
    history = torch.full((b, steps), c.pad_token_id, dtype=torch.long)  # running rows only
    out = torch.full((b, steps), c.pad_token_id, dtype=torch.long)  # all rows, by original position
    rows = torch.arange(b)
    alive = torch.ones(b, dtype=torch.bool)  # finished rows stay in the batch until compaction
    done_len = [steps] * b
    reasons = ["length"] * b
    nodes = [trie.root] * b if trie else None
    tokens = torch.full((b,), c.decoder_start_token_id, dtype=torch.long)
    plain = cfg.repetition_penalty == 1.0 and not cfg.no_repeat_ngram_size and not cfg.min_new_tokens
    for step in range(steps):
        scores = model.decode_step(state, tokens)
        if not plain or cfg.do_sample or trie:
            scores = process_logits(scores.float(), history, step, cfg, eos)
        if trie:
            scores = scores + trie.mask(nodes, scores.shape[-1])
        nxt = warp_and_sample(scores, cfg, generator) if cfg.do_sample else argmax_rows(scores)
        history[:, step] = nxt
        out[rows, step] = nxt  # a finished row's later tokens land past its length, unread
        finished = nxt == eos
        if trie:
            nodes = [node[t] for node, t in zip(nodes, nxt.tolist(), strict=True)]
            finished |= torch.tensor([not node for node in nodes])
        if stop:
            finished |= torch.tensor(stop.hits(history, step + 1))
        finished &= alive
        for r in finished.nonzero().squeeze(1).tolist():
            orig = int(rows[r])
            done_len[orig] = step + (0 if int(nxt[r]) == eos else 1)
            reasons[orig] = "stop"
        alive &= ~finished
        if trie:  # a finished row restarts at the root so its (ignored) steps stay well-defined
            nodes = [node if live else trie.root for node, live in zip(nodes, alive.tolist(), strict=True)]
        dead = len(alive) - int(alive.sum())
        if dead == len(alive):
            break
        tokens = nxt
        if dead * COMPACT_SHARE >= len(alive):
            keep = alive.nonzero().squeeze(1)
            state, rows, tokens, history, alive = (
                state.select(keep),
                rows[keep],
                nxt[keep],
                history[keep],
                alive[keep],
            )
            if trie:
                nodes = [nodes[k] for k in keep.tolist()]
    return [DecodeResult(out[r, : done_len[r]].tolist(), reasons[r]) for r in range(b)]


def generate(
    model,
    prompts: Sequence[Sequence[int]],
    cfg,
    *,
    trie: TokenTrie | None = None,
    stop: StopChecker | None = None,
    token_budget: int = 16384,
    max_batch: int = 64,
) -> list[list[DecodeResult]]:
    """Decode every prompt (token ids) in length-sorted buckets; results in input order.

    Returns, per prompt, a list of `cfg.num_return_sequences` results. Sampling with several
    return sequences decodes the prompt that many times as independent rows; beam search
    returns the best beams.
    """
    if cfg.num_beams > 1:
        from flankit.inference.beam import beam_search

        batches = plan_batches(
            [len(p) for p in prompts], token_budget, max_batch, rows_per_item=cfg.num_beams
        )
        results: list[list[DecodeResult]] = [[] for _ in prompts]
        for batch in batches:
            for i, res in zip(
                batch, beam_search(model, [prompts[i] for i in batch], cfg, trie=trie), strict=True
            ):
                results[i] = res
        return results
    n = cfg.num_return_sequences
    rows = [i for i in range(len(prompts)) for _ in range(n)]
    generator = torch.Generator().manual_seed(cfg.seed) if cfg.seed is not None else None
    flat: list[DecodeResult | None] = [None] * len(rows)
    for batch in plan_batches([len(prompts[i]) for i in rows], token_budget, max_batch):
        outs = decode_batch(
            model, [prompts[rows[j]] for j in batch], cfg, trie=trie, stop=stop, generator=generator
        )
        for j, res in zip(batch, outs, strict=True):
            flat[j] = res
    return [flat[i * n : (i + 1) * n] for i in range(len(prompts))]
