"""A compact T5 encoder-decoder that matches Hugging Face transformers on the same weights.

Supports T5 v1.0 (ReLU feed-forward, tied embeddings, decoder output scaled by d_model**-0.5)
and v1.1 / FLAN-T5 (gated-GELU, untied lm_head). What it adds over the reference:

* **Segment ids** (`encoder_segment_ids`, `decoder_segment_ids`) so several examples can be
  packed into one row: every attention (encoder self, decoder causal self, cross) only sees
  its own segment. Relative position bias depends only on key - query distance, so a packed
  example gets exactly the logits it gets alone.
* **Inference passes** (in `flankit.modeling.decoding_cache`): incremental decoding with a
  preallocated cache, and token-tree teacher forcing for scoring many options of one prompt.

Checkpoints use transformers' key names, so `from_pretrained` reads a Hugging Face T5 folder
(single or sharded safetensors, or pytorch_model.bin) and `save_pretrained` writes one that
`transformers.T5ForConditionalGeneration` loads with no missing or unexpected keys.

References: Raffel et al. 2020 (T5), Chung et al. 2022 (FLAN-T5); the attention layout follows
the published T5 architecture (no 1/sqrt(d) scaling, RMSNorm without mean, bucketed
relative position bias owned by the first layer of each stack).

Run the parity tests: `pytest tests/modeling`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from flankit.errors import ModelError
from flankit.modeling import kernels, segments
from flankit.modeling.decoding_cache import DecodingMixin, compute_dtype, mask_to_bias

ACTIVATIONS = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
}
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


@dataclass
class T5Config:
    """Architecture hyper-parameters, with transformers' `T5Config` field names."""

    vocab_size: int = 32128
    d_model: int = 512
    d_kv: int = 64
    d_ff: int = 2048
    num_layers: int = 6
    num_decoder_layers: int | None = None
    num_heads: int = 8
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    dropout_rate: float = 0.1
    layer_norm_epsilon: float = 1e-6
    feed_forward_proj: str = "relu"
    tie_word_embeddings: bool = True  # v1.0: lm_head shares the embedding and output is rescaled
    pad_token_id: int = 0
    eos_token_id: int = 1
    decoder_start_token_id: int = 0

    def __post_init__(self):
        if self.num_decoder_layers is None:
            self.num_decoder_layers = self.num_layers
        act = self.activation  # validates
        del act

    @property
    def is_gated(self) -> bool:
        return self.feed_forward_proj.startswith("gated-")

    @property
    def activation(self) -> str:
        parts = self.feed_forward_proj.split("-")
        if len(parts) > 2 or (len(parts) == 2 and parts[0] != "gated"):
            raise ModelError(
                f"feed_forward_proj {self.feed_forward_proj!r} is not valid: use 'relu', 'gelu', "
                "'gated-gelu' or 'gated-silu'."
            )
        name = "gelu_new" if self.feed_forward_proj == "gated-gelu" else parts[-1]
        if name not in ACTIVATIONS:
            raise ModelError(
                f"Unknown activation {parts[-1]!r} in feed_forward_proj {self.feed_forward_proj!r}; "
                f"supported: relu, gelu, gated-gelu, gated-silu."
            )
        return name

    @classmethod
    def from_hf_dict(cls, data: dict) -> T5Config:
        """Read a transformers config.json mapping (extra keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names and v is not None}
        if "scale_decoder_outputs" in data:  # written by transformers >= 5 instead of the tie flag
            kwargs["tie_word_embeddings"] = bool(data["scale_decoder_outputs"])
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ModelError(f"config.json is not a valid T5 config: {exc}") from None

    def to_hf_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.update(
            architectures=["T5ForConditionalGeneration"],
            model_type="t5",
            is_encoder_decoder=True,
            dense_act_fn=self.activation,
            is_gated_act=self.is_gated,
        )
        return out


@dataclass
class Seq2SeqOutput:
    logits: torch.Tensor
    loss: torch.Tensor | None = None
    encoder_hidden_states: torch.Tensor | None = None


class Dropout(nn.Dropout):
    """Inverted dropout; on CPU the mask comes from 16-bit slices of 64-bit random words.

    torch's CPU `bernoulli_` draws one Mersenne-Twister number per element, which makes
    dropout cost as much as the matmuls of a small T5 step. Cutting each 64-bit draw into
    four 16-bit uniforms is ~6x cheaper; the rate is rounded to a multiple of 1/65536.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return cpu_dropout(x, self.p) if x.device.type == "cpu" else F.dropout(x, self.p, True)


def cpu_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Inverted dropout with a cheap CPU mask (see `Dropout`)."""
    n = x.numel()
    words = torch.randint(-(2**63), 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64)
    drop = round(p * 65536)
    keep = words.view(torch.int16)[:n].view(x.shape) >= drop - 32768  # P(keep) = 1 - drop / 65536
    return x * keep.to(x.dtype).mul_(65536 / (65536 - drop))


class RMSNorm(nn.Module):
    """T5 layer norm: scale only, no mean subtraction, no bias; computed in fp32.

    Under autocast the output is cast once to the compute dtype, so the projections that
    read it (q/k/v, wi_0/wi_1) do not each cast it again.
    """

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.float().pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(var + self.eps)
        if self.weight.dtype in (torch.float16, torch.bfloat16):
            x = x.to(self.weight.dtype)
        return (self.weight * x).to(compute_dtype(self.weight))


def relative_bucket(
    rel: torch.Tensor, bidirectional: bool, num_buckets: int, max_distance: int
) -> torch.Tensor:
    """Map key - query distances to buckets: exact for small distances, log-spaced beyond."""
    buckets = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        buckets += (rel > 0).long() * num_buckets
        rel = rel.abs()
    else:
        rel = -torch.clamp(rel, max=0)
    max_exact = num_buckets // 2
    is_small = rel < max_exact
    large = (
        max_exact
        + (
            torch.log(rel.float() / max_exact)
            / math.log(max_distance / max_exact)
            * (num_buckets - max_exact)
        ).long()
    )
    large = torch.clamp(large, max=num_buckets - 1)
    return buckets + torch.where(is_small, rel, large)


class Attention(nn.Module):
    def __init__(self, cfg: T5Config, has_bias: bool, bidirectional: bool):
        super().__init__()
        inner = cfg.num_heads * cfg.d_kv
        self.h, self.dk = cfg.num_heads, cfg.d_kv
        self.q = nn.Linear(cfg.d_model, inner, bias=False)
        self.k = nn.Linear(cfg.d_model, inner, bias=False)
        self.v = nn.Linear(cfg.d_model, inner, bias=False)
        self.o = nn.Linear(inner, cfg.d_model, bias=False)
        self.bidirectional = bidirectional
        self.buckets, self.max_distance = (
            cfg.relative_attention_num_buckets,
            cfg.relative_attention_max_distance,
        )
        self.dropout = cfg.dropout_rate
        if has_bias:
            self.relative_attention_bias = nn.Embedding(self.buckets, self.h)
        self.bf16_matmuls = False  # `T5.use_fused_kernels` turns it on for the encoder

    def position_bias(self, q_len: int, k_len: int, device, q_offset: int = 0) -> torch.Tensor:
        """[1, heads, q_len, k_len] additive bias for queries starting at position `q_offset`."""
        q_pos = torch.arange(q_offset, q_offset + q_len, device=device)
        return self.bias_between(q_pos[None], torch.arange(k_len, device=device)[None])

    def bias_between(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        """[B, heads, q, k] additive bias between query positions [B, q] and key positions [B, k]."""
        rel = k_pos[:, None, :] - q_pos[:, :, None]
        b = relative_bucket(rel, self.bidirectional, self.buckets, self.max_distance)
        return self.relative_attention_bias(b).permute(0, 3, 1, 2)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], -1, self.h, self.dk).transpose(1, 2)

    def attend(self, q, k, v, bias) -> torch.Tensor:
        return self.o(self.merge(self.attention(q, k, v, bias)))

    def merge(self, out: torch.Tensor) -> torch.Tensor:
        """[B, H, T, dk] per-head outputs -> [B, T, H * dk]."""
        return out.transpose(1, 2).reshape(out.shape[0], -1, self.h * self.dk)

    def attention(self, q, k, v, bias) -> torch.Tensor:
        """Per-head outputs [B, H, T, dk] of queries, keys, values [B, H, *, dk] under `bias`."""
        if self.training or (torch.is_grad_enabled() and bias.requires_grad):
            # training: the bias needs a gradient, which sends SDPA to its (slower, upcasting)
            # math path, and its dropout draws masks slowly on CPU; plain matmuls + softmax +
            # `cpu_dropout` are about twice as fast. bf16 scores go to softmax as they are (its
            # kernels accumulate in fp32, and the output is bf16 either way); fp16 ones are
            # upcast first, as the masking bias is near fp16's limit.
            scores = torch.matmul(q, k.transpose(-1, -2)) + bias.to(q.dtype)
            with torch.autocast(scores.device.type, enabled=False):
                probs = torch.softmax(scores.float() if scores.dtype == torch.float16 else scores, dim=-1)
            probs = probs.to(v.dtype)
            if self.training and self.dropout:
                on_cpu = probs.device.type == "cpu"
                probs = cpu_dropout(probs, self.dropout) if on_cpu else F.dropout(probs, self.dropout)
            return torch.matmul(probs, v)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), scale=1.0)

    def attend_bf16(self, q, k, v, bias) -> torch.Tensor:
        """Inference attention of fp32 activations with bf16 matmuls, fp32 bias and softmax.

        For the int8 engine's encoder: fp32 batched matmuls over short sequences run at a
        fifth of bf16's speed on CPUs with AVX512-BF16, and SDPA's fused kernel is no faster;
        the rounding stays below that of int8 activations.
        """
        scores = torch.matmul(q, k.transpose(-1, -2)).float() + bias
        out = torch.matmul(torch.softmax(scores, dim=-1).to(v.dtype), v).float()
        return self.o(self.merge(out))

    def forward(self, x, bias, kv=None):
        if isinstance(bias, segments.SegmentBias):
            return bias.attend(self, x)
        if kv is None and hasattr(self, "qkv_fused"):
            qkv = self.qkv_fused(x)
            if self.bf16_matmuls:
                return self.attend_bf16(
                    *(self.split(t) for t in qkv.to(torch.bfloat16).chunk(3, dim=-1)), bias
                )
            q, k, v = qkv.chunk(3, dim=-1)
            return self.attend(self.split(q), self.split(k), self.split(v), bias)
        src = x if kv is None else kv
        k, v = self.project_kv(src)
        return self.attend(self.split(self.q(x)), k, v, bias)

    def project_kv(
        self, src: torch.Tensor, dtype: torch.dtype | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values [B, H, S, dk] of `src` (one GEMM when the projections are fused),
        converted to `dtype` when given (in the projection's own layout, a plain pass)."""
        if hasattr(self, "kv_fused"):
            k, v = self.kv_fused(src).to(dtype).chunk(2, dim=-1)
            return self.split(k), self.split(v)
        return self.split(self.k(src).to(dtype)), self.split(self.v(src).to(dtype))

    @torch.no_grad()
    def fuse(self, self_attention: bool) -> None:
        """Add one Linear holding [q; k; v] (self-attention) or [k; v] (cross) for inference.

        Decoding is dominated by per-call costs at small row counts (activation quantization
        for int8, kernel dispatch); one wide GEMM replaces two or three narrow ones.
        """
        parts = (self.q, self.k, self.v) if self_attention else (self.k, self.v)
        name = "qkv_fused" if self_attention else "kv_fused"
        setattr(self, name, _concat_linear(parts))


class FeedForward(nn.Module):
    def __init__(self, cfg: T5Config):
        super().__init__()
        self.gated = cfg.is_gated
        if self.gated:
            self.wi_0 = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
            self.wi_1 = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        else:
            self.wi = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.wo = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)
        self.act = ACTIVATIONS[cfg.activation]
        self.dropout = Dropout(cfg.dropout_rate)
        self.fused_act = False  # `T5.use_fused_kernels` turns on the compiled gated-GELU

    def forward(self, x):
        if self.fused_act:
            h = kernels.gated_gelu(self.wi_fused(x))
        elif hasattr(self, "wi_fused"):
            gate, lin = self.wi_fused(x).chunk(2, dim=-1)
            h = self.act(gate) * lin
        else:
            h = self.act(self.wi_0(x)) * self.wi_1(x) if self.gated else self.act(self.wi(x))
        return self.wo(self.dropout(h))

    @torch.no_grad()
    def fuse(self) -> None:
        """Add one Linear holding [wi_0; wi_1] (gated variants) for inference."""
        if self.gated:
            self.wi_fused = _concat_linear((self.wi_0, self.wi_1))


@torch.no_grad()
def _concat_linear(parts) -> nn.Linear:
    """A bias-free Linear whose output is the concatenated outputs of `parts`."""
    weight = torch.cat([p.weight for p in parts], dim=0)
    lin = nn.Linear(weight.shape[1], weight.shape[0], bias=False, device=weight.device, dtype=weight.dtype)
    lin.weight.copy_(weight)
    return lin.requires_grad_(False)


class SelfAttentionLayer(nn.Module):
    def __init__(self, cfg, has_bias, bidirectional):
        super().__init__()
        self.SelfAttention = Attention(cfg, has_bias, bidirectional)
        self.layer_norm = RMSNorm(cfg.d_model, cfg.layer_norm_epsilon)
        self.dropout = Dropout(cfg.dropout_rate)


class CrossAttentionLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.EncDecAttention = Attention(cfg, False, True)
        self.layer_norm = RMSNorm(cfg.d_model, cfg.layer_norm_epsilon)
        self.dropout = Dropout(cfg.dropout_rate)


class FeedForwardLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.DenseReluDense = FeedForward(cfg)
        self.layer_norm = RMSNorm(cfg.d_model, cfg.layer_norm_epsilon)
        self.dropout = Dropout(cfg.dropout_rate)

    def forward(self, x):
        return x + self.dropout(self.DenseReluDense(self.layer_norm(x)))


class Block(nn.Module):
    """One layer: self-attention, (decoder only) cross-attention, feed-forward; pre-norm residuals."""

    def __init__(self, cfg: T5Config, is_decoder: bool, has_bias: bool):
        super().__init__()
        layers = [SelfAttentionLayer(cfg, has_bias, bidirectional=not is_decoder)]
        if is_decoder:
            layers.append(CrossAttentionLayer(cfg))
        layers.append(FeedForwardLayer(cfg))
        self.layer = nn.ModuleList(layers)
        self.is_decoder = is_decoder

    def forward(self, x, self_bias, enc=None, cross_bias=None):
        sa = self.layer[0]
        x = x + sa.dropout(sa.SelfAttention(sa.layer_norm(x), self_bias))
        if self.is_decoder:
            ca = self.layer[1]
            x = x + ca.dropout(ca.EncDecAttention(ca.layer_norm(x), cross_bias, kv=enc))
        return self.layer[-1](x)


class Stack(nn.Module):
    def __init__(self, cfg: T5Config, is_decoder: bool, n_layers: int):
        super().__init__()
        self.block = nn.ModuleList([Block(cfg, is_decoder, has_bias=(i == 0)) for i in range(n_layers)])
        self.final_layer_norm = RMSNorm(cfg.d_model, cfg.layer_norm_epsilon)
        self.dropout = Dropout(cfg.dropout_rate)

    @property
    def bias_owner(self) -> Attention:
        return self.block[0].layer[0].SelfAttention


def _segments(mask: torch.Tensor | None, seg: torch.Tensor | None, ids: torch.Tensor) -> torch.Tensor:
    """Segment ids with padding as 0; without packing every real token is segment 1."""
    if seg is not None:
        return seg
    if mask is not None:
        return mask.long()
    return torch.ones_like(ids)


class T5(DecodingMixin, nn.Module):
    """T5 encoder-decoder with segment-aware attention; inference passes come from `DecodingMixin`."""

    def __init__(self, config: T5Config):
        super().__init__()
        self.config = config
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = Stack(config, is_decoder=False, n_layers=config.num_layers)
        self.decoder = Stack(config, is_decoder=True, n_layers=config.num_decoder_layers)
        if not config.tie_word_embeddings:
            self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.init_weights()

    # ----- construction and weights -------------------------------------------------------
    @torch.no_grad()
    def init_weights(self, factor: float = 1.0) -> None:
        """T5's initialisation (Mesh TensorFlow scheme, as transformers does it)."""
        c = self.config
        self.shared.weight.normal_(0.0, factor)
        if not c.tie_word_embeddings:
            self.lm_head.weight.normal_(0.0, factor * c.d_model**-0.5)
        for m in self.modules():
            if isinstance(m, RMSNorm):
                m.weight.fill_(factor)
            elif isinstance(m, Attention):
                m.q.weight.normal_(0.0, factor * (c.d_model * c.d_kv) ** -0.5)
                m.k.weight.normal_(0.0, factor * c.d_model**-0.5)
                m.v.weight.normal_(0.0, factor * c.d_model**-0.5)
                m.o.weight.normal_(0.0, factor * (c.num_heads * c.d_kv) ** -0.5)
                if hasattr(m, "relative_attention_bias"):
                    m.relative_attention_bias.weight.normal_(0.0, factor * c.d_model**-0.5)
            elif isinstance(m, FeedForward):
                for lin in (m.wi_0, m.wi_1) if m.gated else (m.wi,):
                    lin.weight.normal_(0.0, factor * c.d_model**-0.5)
                m.wo.weight.normal_(0.0, factor * c.d_ff**-0.5)

    def output_embedding(self) -> torch.Tensor:
        return self.shared.weight if self.config.tie_word_embeddings else self.lm_head.weight

    def project(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.config.tie_word_embeddings:
            head = getattr(self, "head_fused", None)  # an (int8-quantizable) copy of the tied head
            scaled = hidden * self.config.d_model**-0.5
            return head(scaled) if head is not None else F.linear(scaled, self.shared.weight)
        return self.lm_head(hidden)  # a module call so a quantized lm_head works too

    @property
    def device(self) -> torch.device:
        return self.shared.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.shared.weight.dtype

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ----- forward ------------------------------------------------------------------------
    def encode(self, input_ids, attention_mask=None, segment_ids=None) -> torch.Tensor:
        seg = _segments(attention_mask, segment_ids, input_ids)
        n = input_ids.shape[1]
        x = self.encoder.dropout(self.shared(input_ids))
        dtype = compute_dtype(x)  # build the bias once in the matmul dtype, not per layer
        owner, bias = self.encoder.bias_owner, None
        if segment_ids is not None:  # packed rows: attention per example (`segments`)
            bias = segments.encoder_bias(seg, lambda q, k: owner.position_bias(q, k, input_ids.device), dtype)
        if bias is None:
            allowed = (seg[:, :, None] == seg[:, None, :]) & (seg[:, None, :] != 0)
            bias = owner.position_bias(n, n, input_ids.device).to(dtype) + mask_to_bias(allowed, dtype)
        for block in self.encoder.block:
            x = block(x, bias)
        return self.encoder.dropout(self.encoder.final_layer_norm(x))

    def decode(self, decoder_input_ids, enc, enc_seg, dec_seg) -> torch.Tensor:
        t = decoder_input_ids.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool, device=enc.device).tril()
        self_allowed = causal[None] & (dec_seg[:, :, None] == dec_seg[:, None, :])
        dtype = compute_dtype(enc)
        self_bias = self.decoder.bias_owner.position_bias(t, t, enc.device).to(dtype) + mask_to_bias(
            self_allowed, dtype
        )
        cross_allowed = (dec_seg[:, :, None] == enc_seg[:, None, :]) & (enc_seg[:, None, :] != 0)
        # a decoder padding token has no encoder segment to look at; let it see everything
        # rather than nothing (its output is ignored) so no row is fully masked.
        cross_allowed |= ~cross_allowed.any(-1, keepdim=True)
        return self.run_decoder(decoder_input_ids, enc, self_bias, mask_to_bias(cross_allowed, dtype))

    def run_decoder(self, decoder_input_ids, enc, self_bias, cross_bias) -> torch.Tensor:
        """The decoder stack under given additive biases: self [B|1, H|1, T, T], cross [B, 1, T|1, S]."""
        x = self.decoder.dropout(self.shared(decoder_input_ids))
        for block in self.decoder.block:
            x = block(x, self_bias, enc, cross_bias)
        return self.decoder.dropout(self.decoder.final_layer_norm(x))

    def shift_right(self, labels: torch.Tensor) -> torch.Tensor:
        start = torch.full_like(labels[:, :1], self.config.decoder_start_token_id)
        shifted = torch.cat([start, labels[:, :-1]], dim=1)
        return shifted.masked_fill(shifted == -100, self.config.pad_token_id)

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,  # accepted for API compatibility; causal attention makes it moot
        encoder_segment_ids=None,
        decoder_segment_ids=None,
        labels=None,
        encoder_hidden_states=None,
    ) -> Seq2SeqOutput:
        if input_ids is None and encoder_hidden_states is None:
            raise ModelError("T5.forward needs input_ids (or precomputed encoder_hidden_states).")
        if encoder_hidden_states is None:
            encoder_hidden_states = self.encode(input_ids, attention_mask, encoder_segment_ids)
        if decoder_input_ids is None:
            if labels is None:
                raise ModelError("T5.forward needs decoder_input_ids or labels.")
            decoder_input_ids = self.shift_right(labels)
        enc_seg = _segments(attention_mask, encoder_segment_ids, encoder_hidden_states[..., 0])
        # unpacked: each decoder row is one segment matching its encoder row; right padding
        # of the decoder needs no mask because attention there is causal.
        dec_seg = (
            decoder_segment_ids if decoder_segment_ids is not None else torch.ones_like(decoder_input_ids)
        )
        hidden = self.decode(decoder_input_ids, encoder_hidden_states, enc_seg, dec_seg)
        logits = self.project(hidden)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100
            )
        return Seq2SeqOutput(logits=logits, loss=loss, encoder_hidden_states=encoder_hidden_states)

    def fuse_projections(self) -> T5:
        """Add fused [q; k; v], cross [k; v] and [wi_0; wi_1] Linears for inference (in place).

        A tied output head also gets its own Linear copy so `quantize_int8` covers it.

        The originals stay (training and LoRA use them); the fused copies are left out of
        `save_pretrained`. Call before `quantize_int8` so the fused layers are quantized too.
        """
        for stack in (self.encoder, self.decoder):
            for block in stack.block:
                block.layer[0].SelfAttention.fuse(self_attention=True)
                if block.is_decoder:
                    block.layer[1].EncDecAttention.fuse(self_attention=False)
                block.layer[-1].DenseReluDense.fuse()
        if self.config.tie_word_embeddings:
            self.head_fused = _concat_linear([self.shared])
        return self

    def use_fused_kernels(self) -> T5:
        """Faster inference kernels for fp32 activations over bf16 caches (the int8 engine).

        Each decoder layer's step runs as one compiled function (`kernels.decoder_layer`), the
        gated-GELU of the other passes is compiled and the encoder's attention matmuls run in
        bf16 (`Attention.attend_bf16`). Call after `fuse_projections` and any quantization:
        the compiled layers call the Linears present now. Outputs change by rounding only,
        less than int8 activations already do.
        """
        if not hasattr(self.decoder.block[0].layer[0].SelfAttention, "qkv_fused"):
            raise ModelError("use_fused_kernels needs fused projections: call fuse_projections() first")
        self.fused_kernels = True
        for block in self.encoder.block:
            block.layer[0].SelfAttention.bf16_matmuls = True
        gelu = self.config.feed_forward_proj == "gated-gelu"
        for m in self.modules():
            if isinstance(m, FeedForward):
                m.fused_act = hasattr(m, "wi_fused") and gelu
        self.fused_layers = [self._layer_arguments(block) for block in self.decoder.block]
        return self

    def _layer_arguments(self, block: Block) -> tuple:
        """The per-layer arguments of `kernels.decoder_layer` after the activations, caches and
        biases: norms, Linear slots and widths, activation, eps."""
        sa, ca, ff = block.layer
        mlp = ff.DenseReluDense
        linears = (
            sa.SelfAttention.qkv_fused,
            sa.SelfAttention.o,
            ca.EncDecAttention.q,
            ca.EncDecAttention.o,
            mlp.wi_fused if mlp.gated else mlp.wi,
            mlp.wo,
        )
        slots, widths = zip(*map(kernels.linear_slot, linears), strict=True)
        act = kernels.gelu_tanh if self.config.feed_forward_proj == "gated-gelu" else mlp.act
        norms = torch.stack([layer.layer_norm.weight.detach() for layer in block.layer])
        return norms, torch.tensor(slots), widths, act, mlp.gated, self.config.layer_norm_epsilon

    # ----- Hugging Face format ------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | Path, dtype: torch.dtype | None = None) -> T5:
        """Load a Hugging Face T5 folder (config.json + safetensors, sharded or not, or .bin)."""
        folder = Path(path)
        cfg_file = folder / "config.json"
        if not folder.is_dir():
            raise ModelError(f"model folder {str(folder)!r} does not exist")
        if not cfg_file.is_file():
            raise ModelError(f"{folder} has no config.json: is it a Hugging Face T5 checkpoint folder?")
        try:
            data = json.loads(cfg_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelError(
                f"{cfg_file} is not valid JSON ({exc}); re-save the model or fix the file"
            ) from None
        if not isinstance(data, dict):
            raise ModelError(f"{cfg_file} must hold a JSON object")
        if data.get("model_type", "t5") not in ("t5", "mt5"):
            raise ModelError(
                f"{folder} holds a {data.get('model_type')!r} model; flankit's T5 needs model_type 't5'"
            )
        config = T5Config.from_hf_dict(data)
        state = _read_state_dict(folder)
        model = cls(config)
        model.load_hf_state_dict(state, source=str(folder))
        if dtype is not None:
            model = model.to(dtype)
        return model.eval()

    def load_hf_state_dict(self, state: dict[str, torch.Tensor], source: str = "state dict") -> None:
        state = dict(state)
        for tied in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight"):
            state.pop(tied, None)
        state.pop("decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight", None)
        if self.config.tie_word_embeddings:
            state.pop("lm_head.weight", None)
        elif "lm_head.weight" not in state:
            state["lm_head.weight"] = state["shared.weight"]  # untied config saved with a tied head
        own = {k: v for k, v in self.state_dict().items() if not _is_fused(k)}
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ModelError(
                f"{source}: weights do not match the config (missing {missing[:5]}, unexpected {unexpected[:5]})"
            )
        for k, v in state.items():
            if v.shape != own[k].shape:
                raise ModelError(
                    f"{source}: {k} has shape {tuple(v.shape)}, config expects {tuple(own[k].shape)}"
                )
        self.load_state_dict(state)

    def save_pretrained(self, path: str | Path) -> None:
        """Write config.json + model.safetensors in transformers' layout."""
        from safetensors.torch import save_file

        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items() if not _is_fused(k)}
        (folder / "config.json").write_text(
            json.dumps(self.config.to_hf_dict(), indent=2) + "\n", encoding="utf-8"
        )
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})


def _is_fused(key: str) -> bool:
    """State-dict keys of the inference-only fused Linears (see `T5.fuse_projections`)."""
    return "_fused." in key


def _read_state_dict(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    single, index, binary = (folder / name for name in WEIGHT_FILES)
    try:
        if single.is_file():
            return load_file(str(single))
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            state: dict[str, torch.Tensor] = {}
            for shard in shards:
                state.update(load_file(str(folder / shard)))
            return state
        if binary.is_file():
            return torch.load(str(binary), map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or truncated weight files
        raise ModelError(f"cannot read the weights in {folder}: {exc}") from None
    raise ModelError(f"{folder} has no weights (expected one of {', '.join(WEIGHT_FILES)})")
