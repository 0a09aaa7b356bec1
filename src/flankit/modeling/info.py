"""Model sizing: parameters, layers, vocabulary and weight memory per dtype.

Answers the question users ask before they download or train: how big is this model and
how much memory do its weights take in fp32 / bf16 / int8.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from flankit.errors import ModelError
from flankit.modeling.load import SIZES, resolve_path, tiny_config
from flankit.modeling.t5 import T5Config

BYTES = {"fp32": 4, "bf16": 2, "int8": 1}


@dataclass
class ModelInfo:
    source: str
    parameters: int
    encoder_layers: int
    decoder_layers: int
    d_model: int
    heads: int
    vocab_size: int
    feed_forward: str
    tied_embeddings: bool
    weight_mb: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)


def count_parameters(cfg: T5Config) -> int:
    """Exact parameter count of `T5(cfg)` computed from the config alone (no allocation)."""
    d, inner, ff = cfg.d_model, cfg.num_heads * cfg.d_kv, cfg.d_ff
    attn = 4 * d * inner
    ffn = (3 if cfg.is_gated else 2) * d * ff
    bias = cfg.relative_attention_num_buckets * cfg.num_heads
    enc = cfg.num_layers * (attn + ffn + 2 * d) + bias + d
    dec = cfg.num_decoder_layers * (2 * attn + ffn + 3 * d) + bias + d
    emb = cfg.vocab_size * d * (1 if cfg.tie_word_embeddings else 2)
    return enc + dec + emb


def model_info(name: str) -> ModelInfo:
    """Info for a local folder, hub id (online) or a named size (`tiny`, `small`, `base`)."""
    if name in SIZES:
        cfg = tiny_config(name)
    else:
        cfg_file = resolve_path(name) / "config.json"
        if not cfg_file.is_file():
            raise ModelError(f"{cfg_file.parent} has no config.json: is it a T5 checkpoint folder?")
        try:
            cfg = T5Config.from_hf_dict(json.loads(Path(cfg_file).read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise ModelError(f"{cfg_file} is not valid JSON ({exc})") from None
    n = count_parameters(cfg)
    # int8 quantizes the matrices; norms and position biases stay fp32 (negligible)
    return ModelInfo(
        source=name,
        parameters=n,
        encoder_layers=cfg.num_layers,
        decoder_layers=cfg.num_decoder_layers,
        d_model=cfg.d_model,
        heads=cfg.num_heads,
        vocab_size=cfg.vocab_size,
        feed_forward=cfg.feed_forward_proj,
        tied_embeddings=cfg.tie_word_embeddings,
        weight_mb={k: round(n * b / 2**20, 1) for k, b in BYTES.items()},
    )
