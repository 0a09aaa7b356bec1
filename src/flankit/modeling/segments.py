"""Attention over packed rows at the cost of the examples, not of the rows.

A packed row of L tokens holding examples of lengths l1, l2, ... computes L x L attention
scores of which only l1² + l2² + ... are allowed; with about three examples per row two
thirds of the scores, softmax and dropout work are spent on masked entries. Here every
segment's tokens are gathered into a row of their own, segments of similar length into one
block (row width rounded up to `MULTIPLE`), attention runs per block ([n, H, W, W] scores)
and the outputs are scattered back into the packed layout. The projections, norms and
feed-forward layers stay packed (no padding).

For every real token the result is what the packed computation gives: the same keys, the
same relative position bias (it depends only on key - query distance) and the same mask.
Padding tokens of the packed rows get zeros.

`SegmentBias` stands in for the additive bias tensor of dense attention; `Attention.forward`
hands the work to it. It is built for the encoder's self-attention only when rows hold more
than one segment on average and every segment is contiguous (what
`flankit.data.features.collate` writes). The decoder stays dense: its rows are short, and
blocking its self- or cross-attention measured slower (many small blocks).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from flankit.modeling.decoding_cache import mask_to_bias

MULTIPLE = 16  # block widths are segment lengths rounded up to this
_enabled = True


@contextmanager
def dense_attention() -> Iterator[None]:
    """Within the block, packed rows use dense masked attention (for comparisons and tests)."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before


def segment_spans(seg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(flat start, length) of every segment of [B, L] ids (0 = padding), in row order; None
    when a segment is not contiguous (a layout blocks cannot express)."""
    flat = seg.reshape(-1)
    pos = torch.nonzero(flat > 0).squeeze(1)
    keys = (pos // seg.shape[1]) * (int(flat.max()) + 1) + flat[pos]
    uniq, counts = torch.unique_consecutive(keys, return_counts=True)
    if uniq.numel() != torch.unique(uniq).numel():
        return None
    return pos[torch.cumsum(counts, 0) - counts], counts


class SegmentBias:
    """Blocked self-attention over packed rows: per block of segments of one width W, their flat
    packed positions [n * W], the block's additive bias [n, H, W, W], and the map from packed
    positions back into the blocks.

    A block row's padding reads its segment's first token again: the bias masks it as a key and
    its output as a query is never scattered back, so no zero row has to be appended per call."""

    def __init__(
        self, starts: torch.Tensor, lengths: torch.Tensor, shape: tuple[int, int], position_bias, dtype
    ):
        dev, total = starts.device, shape[0] * shape[1]
        widths = torch.clamp((lengths + MULTIPLE - 1) // MULTIPLE * MULTIPLE, max=shape[1])
        top = int(widths.max())
        pos = position_bias(top, top).to(dtype)
        self.shape, self.index, self.widths, self.biases = shape, [], [], []
        back = torch.empty(total, dtype=torch.long, device=dev)
        offset, placed = 0, []
        for w in torch.unique(widths).tolist():
            members = torch.nonzero(widths == w).squeeze(1)
            j = torch.arange(w, device=dev)
            idx = starts[members, None] + j
            valid = j < lengths[members, None]
            self.index.append(torch.where(valid, idx, starts[members, None]).reshape(-1))
            self.widths.append(w)
            self.biases.append(pos[:, :, :w, :w] + mask_to_bias(valid[:, None], dtype))
            placed.append((idx[valid], offset + torch.nonzero(valid.reshape(-1)).squeeze(1)))
            offset += members.numel() * w
        back.fill_(offset)  # packed padding reads the zero row appended after the blocks
        for packed, blocked in placed:
            back[packed] = blocked
        self.back = back

    def gather(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[B, L, d] packed -> per block [n, W, d]."""
        d = x.shape[-1]
        flat = x.reshape(-1, d)
        return [
            torch.index_select(flat, 0, i).view(-1, w, d)
            for i, w in zip(self.index, self.widths, strict=True)
        ]

    def scatter(self, parts: list[torch.Tensor]) -> torch.Tensor:
        """Per block [n, W, d] -> [B, L, d] packed (padding positions are zero)."""
        d = parts[0].shape[-1]
        flat = torch.cat([*(p.reshape(-1, d) for p in parts), parts[0].new_zeros(1, d)])
        return torch.index_select(flat, 0, self.back).view(*self.shape, d)

    def attend(self, att, x: torch.Tensor) -> torch.Tensor:
        """Self-attention `att` (an `Attention`) of packed x [B, L, d]: the projections run on
        the packed rows, only the per-head attention per block."""
        blocks = zip(
            self.gather(att.q(x)), self.gather(att.k(x)), self.gather(att.v(x)), self.biases, strict=True
        )
        outs = [
            att.merge(att.attention(att.split(q), att.split(k), att.split(v), b)) for q, k, v, b in blocks
        ]
        return att.o(self.scatter(outs))


def encoder_bias(seg: torch.Tensor, position_bias, dtype) -> SegmentBias | None:
    """Blocked self-attention for packed [B, L] segment ids, or None where dense is the better
    choice (no more segments than rows) or the only one (a segment is not contiguous).

    `position_bias(q_len, k_len)` gives the [1, H, q, k] relative position bias."""
    spans = segment_spans(seg) if _enabled else None
    if spans is None or spans[0].numel() <= seg.shape[0]:
        return None
    return SegmentBias(*spans, tuple(seg.shape), position_bias, dtype)
