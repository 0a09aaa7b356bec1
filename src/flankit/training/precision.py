"""The precision a training run computes in: `train.precision` = auto, bf16 or fp32.

bf16 autocast only pays where the hardware multiplies bf16 natively: CUDA GPUs that report
bf16 support (compute capability 8.0 and up), and CPUs with AVX512-BF16 or AMX, which oneDNN
reports. Elsewhere every bf16 matmul is emulated. On a 2-core AMD EPYC with AVX2 only, the
demo's training step ran about 13x slower under bf16 autocast than in fp32 (632 against
8,367 real tokens/s, December 2026). `auto`, the default, picks bf16 where it is native and
fp32 everywhere else; an explicit `bf16` is honoured with a warning that says what it costs.
"""

from __future__ import annotations

import warnings

import torch


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 matmuls in hardware (not by emulation)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `precision` on `device`; None means plain fp32."""
    if precision == "fp32":
        return None
    native = native_bf16(device)
    if precision == "auto":
        return torch.bfloat16 if native else None
    if not native:
        warnings.warn(
            f"train.precision=bf16 on a {device.type} without native bf16 (no AVX512-BF16/AMX "
            "on a CPU, compute capability < 8 on a GPU): bf16 is emulated and training runs "
            "many times slower than in fp32. Use train.precision=auto or fp32.",
            stacklevel=2,
        )
    return torch.bfloat16


def describe(dtype: torch.dtype | None) -> str:
    """The precision name a run records: bf16 or fp32."""
    return "bf16" if dtype == torch.bfloat16 else "fp32"


def resolve(precision: str, device: torch.device) -> str:
    """What `precision` (auto, bf16 or fp32) trains in on `device`: bf16 or fp32."""
    return describe(autocast_dtype(precision, device))
