"""Optimizers and learning-rate schedules.

* `adafactor`: the FLAN / T5 fine-tuning recipe: Adafactor with factored second moments, no
  first moment, update clipping 1.0, decay rate 0.8 and an *external* constant learning rate
  (1e-3 for small models, 5e-4 for larger ones) after a linear warm-up. transformers'
  implementation with `scale_parameter=False, relative_step=False` is exactly this.
* `adamw`: torch AdamW (fused kernel where the device has one, else multi-tensor).

Schedules multiply the base LR: `constant` (after warm-up), `linear` decay to 0, `cosine` decay
to 0, `rsqrt` (T5 pretraining: 1/sqrt(max(step, warmup)) scaled to 1 at the end of warm-up).
All are `LambdaLR`, so their state is just the step count and resumes exactly.

Under FSDP the parameters are `DTensor` shards. AdamW handles them as they are; Adafactor
gets a step pre-hook that creates its factored moments as DTensors (see
`_sharded_factored_state`), so the sharded run makes the same updates as an unsharded one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from flankit.errors import ConfigError
from flankit.registry import suggest

OPTIMIZERS = ("adafactor", "adamw")
SCHEDULES = ("constant", "linear", "cosine", "rsqrt")


def build_optimizer(
    params: Iterable[torch.nn.Parameter],
    name: str,
    lr: float,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
) -> torch.optim.Optimizer:
    """An optimizer over the trainable `params`."""
    params = [p for p in params if p.requires_grad]
    if name == "adafactor":
        from transformers.optimization import Adafactor

        adafactor = Adafactor(
            params,
            lr=lr,
            scale_parameter=False,
            relative_step=False,
            warmup_init=False,
            decay_rate=-0.8,
            clip_threshold=1.0,
            beta1=None,
            weight_decay=weight_decay,
        )
        if any(hasattr(p, "placements") for p in params):  # sharded by FSDP
            adafactor.register_step_pre_hook(_sharded_factored_state)
        return adafactor
    if name == "adamw":
        fused = all(p.device.type in ("cpu", "cuda") for p in params)
        try:
            return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay, fused=fused)
        except (RuntimeError, TypeError):  # an older torch without a fused kernel for this device
            return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay, foreach=True)
    raise ConfigError(
        f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}.{suggest(name, list(OPTIMIZERS))}"
    )


def _sharded_factored_state(optimizer: torch.optim.Optimizer, args, kwargs) -> None:
    """Create Adafactor's state for sharded matrices before their first update.

    transformers' Adafactor allocates the factored second moments with `torch.zeros(shape)`,
    plain tensors that cannot be combined with a sharded gradient. Made from the gradient
    instead, the row moments are sharded like the rows and the column moments replicated;
    DTensor then computes exactly the unsharded update (column means are all-reduced). The
    keys mirror Adafactor's own initialisation, which it skips once the state is non-empty.
    """
    from torch.distributed.tensor import Replicate

    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state[p]
            if state or p.grad is None or p.ndim < 2 or not hasattr(p.grad, "placements"):
                continue
            zeros = torch.zeros_like(p.grad)
            col = zeros.sum(dim=-2)  # partial sums across the row shards -> replicate them
            col = col.redistribute(
                col.device_mesh, [Replicate() if q.is_partial() else q for q in col.placements]
            )
            state.update(step=0, exp_avg_sq_row=zeros.sum(dim=-1), exp_avg_sq_col=col, RMS=0)
            if group.get("beta1") is not None:
                state["exp_avg"] = zeros.clone()


def lr_multiplier(name: str, step: int, warmup: int, total: int) -> float:
    """The schedule's factor on the base LR for the update at 0-based `step`."""
    s = step + 1
    if name == "rsqrt":
        return math.sqrt(max(warmup, 1) / max(s, warmup, 1))
    if warmup and s <= warmup:
        return s / warmup
    if name == "constant":
        return 1.0
    progress = min(max(s - warmup, 0) / max(total - warmup, 1), 1.0)
    if name == "linear":
        return 1.0 - progress
    if name == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ConfigError(
        f"unknown schedule {name!r}; use one of {', '.join(SCHEDULES)}.{suggest(name, list(SCHEDULES))}"
    )


def build_scheduler(optimizer: torch.optim.Optimizer, name: str, warmup: int, total: int):
    """A `LambdaLR` following `lr_multiplier`."""
    lr_multiplier(name, 0, warmup, total)  # validates the name before training starts
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_multiplier(name, step, warmup, total))
