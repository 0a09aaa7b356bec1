"""int8 weight quantization of a T5's Linear layers (per-output-channel scales), for CPU inference.

Decoding reads every weight once per step, so it is bound by memory bandwidth: int8 weights
(a quarter of fp32) are where the speed is. Every `nn.Linear` becomes torch's dynamically
quantized Linear (`torch.ao.quantization.quantize_dynamic` with the per-channel qconfig):
weights are stored int8 with one scale per output channel; activations are quantized per call
and the product runs in fbgemm's int8 kernels (VNNI on this CPU). That includes the fused
projections and the vocabulary head (`lm_head`, or the tied head's copy) when
`T5.fuse_projections` ran first, which the engine does. Embeddings, norms and position biases
stay fp32.

The vocabulary head takes one scale for the whole matrix when its rows have similar ranges
(the largest entry at most `HEAD_SPREAD` times the median row's): fbgemm's per-tensor kernel
is ~25% faster on the 32k-row head (3.0 vs 4.1 ms per step at 64 rows here), and the
rounding error stays within that factor of the per-row one.

Measured on this CPU (2 threads; [64 x 512] @ [512 x 1024] and the 32k-vocab head): dynamic
int8 beat bf16 slightly and fp32 by 2-4x, while the weight-only int8 kernel
`aten._weight_int8pack_mm` was 3-20x slower than bf16 here, so dynamic quantization is used.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

HEAD_SPREAD = 2.0


def quantize_int8(model: nn.Module) -> nn.Module:
    """Quantize every `nn.Linear` of an fp32 `model` to int8 weights (in place); returns the model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao eager quantization announces its move to torchao
        from torch.ao.quantization import (
            default_dynamic_qconfig,
            per_channel_dynamic_qconfig,
            quantize_dynamic,
        )

        torch.backends.quantized.engine = (
            "x86" if "x86" in torch.backends.quantized.supported_engines else "qnnpack"
        )
        qconfig: dict = {nn.Linear: per_channel_dynamic_qconfig}
        head = next(
            (n for n in ("lm_head", "head_fused") if isinstance(getattr(model, n, None), nn.Linear)), None
        )
        if head is not None and one_scale_fits(getattr(model, head).weight):
            qconfig[head] = default_dynamic_qconfig  # per-tensor
        quantize_dynamic(model.float(), qconfig, dtype=torch.qint8, inplace=True)
    return model.eval()


def one_scale_fits(weight: torch.Tensor, spread: float = HEAD_SPREAD) -> bool:
    """Whether one int8 scale for all of `weight` is at most `spread` times the median row's."""
    rows = weight.detach().abs().amax(1)
    return bool(rows.max() <= spread * rows.median())
