"""Training objectives: seq2seq cross-entropy (token mean or per-sequence mean, z-loss) and
T5 span corruption.

Loss normalization. `token`: every target token weighs the same (long targets dominate).
`sequence`: each example's tokens are averaged first, then examples are averaged, as FLAN
does for multi-task tuning so tasks with long targets do not drown the others. Packed rows
hold several examples, so the per-example weights come from the decoder segment ids.
The loss is returned as a weighted *sum*; the trainer divides by the weight of the whole
global batch (all micro-batches and processes), which makes packed vs unpacked, gradient
accumulation and multi-process runs give the same gradients as one big batch.

z-loss (Chowdhery et al. 2022, PaLM) adds `z * logsumexp(logits)**2` per token and keeps the
softmax normalizer near 1 in low precision. Logits are only computed at label positions, so
padding costs no vocabulary projection.

Span corruption (Raffel et al. 2020, section 3.1.4): mask ~15% of the tokens in spans of mean
length 3; the input keeps the rest with one `<extra_id_N>` per span, the target lists the
sentinels followed by the dropped spans.

Word dropout (Iyyer et al. 2015, "Deep Unordered Composition Rivals Syntactic Methods", and
Bowman et al. 2016 on the decoder side) replaces a random share of the encoder's tokens by the
unknown token at every step: a small training set read many times over shows the model a
slightly different sentence each time, so it cannot key on one rare piece.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from flankit.data.features import IGNORE, Pair


def token_weights(labels: torch.Tensor, segment_ids: torch.Tensor | None, normalization: str) -> torch.Tensor:
    """Per-token loss weights [B, T]: 1 per token (`token`) or 1/len(example) (`sequence`)."""
    mask = (labels != IGNORE).float()
    if normalization == "token":
        return mask
    seg = segment_ids if segment_ids is not None else (labels != IGNORE).long()
    seg = seg * (labels != IGNORE).long()  # padding -> segment 0
    counts = torch.zeros(seg.shape[0], int(seg.max()) + 1, device=seg.device).scatter_add_(1, seg, mask)
    return mask / counts.gather(1, seg).clamp(min=1.0)


def batch_weight(labels: torch.Tensor, segment_ids: torch.Tensor | None, normalization: str) -> float:
    """The total loss weight of a batch: label tokens (`token`) or examples (`sequence`)."""
    return float(token_weights(labels, segment_ids, normalization).sum())


@dataclass
class LossTerms:
    loss: torch.Tensor  # weighted sum / denominator, what backward sees
    ce_sum: torch.Tensor  # weighted CE sum (detached), for logging
    z_sum: torch.Tensor  # weighted z-loss sum (detached)


class Seq2SeqObjective(nn.Module):
    """Wraps a T5 (or a peft model around one) and computes the weighted seq2seq loss.

    Wrapping the loss in a module lets DDP wrap the whole step, so logits at padding
    positions are never computed and gradients are still synchronized.
    """

    def __init__(self, model: nn.Module, normalization: str = "token", z_loss: float = 0.0):
        super().__init__()
        if normalization not in ("token", "sequence"):
            raise ValueError(f"normalization must be 'token' or 'sequence', not {normalization!r}")
        self.model = model
        self.normalization = normalization
        self.z_loss = z_loss

    def forward(
        self, batch: dict[str, torch.Tensor], denominator: float, normalization: str | None = None
    ) -> LossTerms:
        """The loss terms of `batch`; `normalization` overrides the module's (validation uses
        `token` through the same, possibly FSDP-wrapped, module)."""
        t5 = self.model
        enc_seg, dec_seg, labels = batch["encoder_segment_ids"], batch["decoder_segment_ids"], batch["labels"]
        enc = t5.encode(batch["input_ids"], segment_ids=enc_seg)
        hidden = t5.decode(batch["decoder_input_ids"], enc, enc_seg, dec_seg)
        weights = token_weights(labels, dec_seg, normalization or self.normalization)
        keep = labels != IGNORE
        logits = t5.project(hidden[keep]).float()
        lse = torch.logsumexp(logits, dim=-1)
        ce = lse - logits.gather(1, labels[keep][:, None])[:, 0]
        w = weights[keep]
        ce_sum = (ce * w).sum()
        total = ce_sum
        z_sum = torch.zeros((), device=ce.device)
        if self.z_loss:
            z_sum = (lse.square() * w).sum() * self.z_loss
            total = total + z_sum
        return LossTerms(total / denominator, ce_sum.detach(), z_sum.detach())


# ----- word dropout ---------------------------------------------------------------------------


def drop_tokens(input_ids: torch.Tensor, rate: float, replacement: int, keep: Sequence[int]) -> torch.Tensor:
    """A copy of `input_ids` with about `rate` of its tokens (never those in `keep`: padding, end
    of sequence, sentinels) replaced by `replacement`; draws from torch's global generator."""
    if rate <= 0.0:
        return input_ids
    hit = torch.rand(input_ids.shape, device=input_ids.device) < rate
    hit &= ~torch.isin(input_ids, torch.tensor(list(keep), device=input_ids.device))
    return input_ids.masked_fill(hit, replacement)


# ----- span corruption ------------------------------------------------------------------------


def _split(total: int, parts: int, rnd: random.Random) -> list[int]:
    """Split `total` into `parts` positive integers uniformly at random."""
    cuts = sorted(rnd.sample(range(1, total), parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, total]
    return [b - a for a, b in zip(bounds, bounds[1:])]


def noise_spans(
    length: int, density: float, mean_span: float, rnd: random.Random, max_spans: int = 100
) -> list[tuple[int, int]]:
    """(start, end) spans to mask: round(length * density) tokens in about /mean_span spans."""
    num_noise = min(max(int(round(length * density)), 1), length - 1)
    num_spans = min(max(int(round(num_noise / mean_span)), 1), num_noise, length - num_noise, max_spans)
    noise = _split(num_noise, num_spans, rnd)
    keep = _split(length - num_noise, num_spans, rnd)
    spans, pos = [], 0
    for k, n in zip(keep, noise):  # each span follows a kept stretch, as in T5
        pos += k
        spans.append((pos, pos + n))
        pos += n
    return spans


def span_corrupt(
    tokens: Sequence[int],
    sentinels: Sequence[int],
    rnd: random.Random,
    density: float = 0.15,
    mean_span: float = 3.0,
    eos_id: int = 1,
) -> Pair:
    """One span-corruption example from a token chunk: (inputs, targets), both ending in eos."""
    inputs: list[int] = []
    targets: list[int] = []
    last = 0
    for n, (a, b) in enumerate(noise_spans(len(tokens), density, mean_span, rnd, len(sentinels))):
        inputs += [*tokens[last:a], sentinels[n]]
        targets += [sentinels[n], *tokens[a:b]]
        last = b
    inputs += tokens[last:]
    return inputs + [eos_id], targets + [eos_id]


def chunk_length(input_length: int, target_length: int, density: float = 0.15, mean_span: float = 3.0) -> int:
    """The longest raw chunk whose corrupted input and target fit the lengths (T5's rule)."""

    def fits(n: int) -> bool:
        noise = max(int(round(n * density)), 1)
        spans = max(int(round(noise / mean_span)), 1)
        return n - noise + spans + 1 <= input_length and noise + spans + 1 <= target_length

    n = 2
    while fits(n + 1):
        n += 1
    return n


def span_corruption_pairs(
    texts: Sequence[str],
    tokenizer,
    input_length: int,
    target_length: int,
    seed: int = 0,
    density: float = 0.15,
    mean_span: float = 3.0,
) -> list[Pair]:
    """Tokenize texts, concatenate them into one stream, cut chunks and corrupt each."""
    sentinels = tokenizer.convert_tokens_to_ids([f"<extra_id_{i}>" for i in range(100)])
    if any(s is None or s == tokenizer.unk_token_id for s in sentinels):
        raise ValueError("the tokenizer has no <extra_id_N> sentinels; span corruption needs a T5 tokenizer")
    stream: list[int] = []
    for start in range(0, len(texts), 2048):
        for ids in tokenizer(list(texts[start : start + 2048]), add_special_tokens=True)["input_ids"]:
            stream += ids
    size = chunk_length(input_length, target_length, density, mean_span)
    rnd = random.Random(seed)
    return [
        span_corrupt(stream[i : i + size], sentinels, rnd, density, mean_span, tokenizer.eos_token_id)
        for i in range(0, len(stream) - 2, size)
        if len(stream[i : i + size]) >= 3
    ]
