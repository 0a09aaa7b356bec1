"""Fully sharded data parallel training (FSDP2: `torch.distributed.fsdp.fully_shard`) for our T5.

On with `train.fsdp: true`, or when the processes were started by accelerate with FSDP
(`accelerate launch --use_fsdp ...` or an `accelerate config` that picks FSDP, both of which
set `ACCELERATE_USE_FSDP=true`). With a single process there is nothing to shard and the flag
is ignored.

Wrapping policy: every `flankit.modeling.t5.Block` is one FSDP unit (its weights are
all-gathered just before the block runs and freed right after, gradients are reduce-scattered
as soon as its backward is done); what is left (shared embedding, final norms) belongs to the
root unit around the loss module. The two relative-position-bias tables are units of their
own: a stack computes its bias once from the first block's table *before* that block runs, so
inside the block's unit the table would still be sharded at that point.

accelerate's own FSDP preparation is not used: it applies a generic policy (which trips on the
table above) and only switches on for GPUs, while `fully_shard` also runs on CPU process groups
(gloo), which is what the tests use. accelerate still launches the processes, builds the
process group and picks the device.

Checkpoints need the whole model: `gather_model` collects the full weights on process 0's CPU
(`torch.distributed.checkpoint.state_dict`, `full_state_dict=True, cpu_offload=True`) into an
unsharded copy that `save_pretrained` writes in Hugging Face format.

References: PyTorch FSDP2 docs (torch.distributed.fsdp.fully_shard); Zhao et al. 2023,
"PyTorch FSDP: Experiences on Scaling Fully Sharded Data Parallel".
"""

from __future__ import annotations

import os

import torch
from torch import nn

ENV_FLAG = "ACCELERATE_USE_FSDP"  # set by `accelerate launch --use_fsdp` / an FSDP accelerate config


def requested(config_flag: bool) -> bool:
    """Whether FSDP is asked for, by the config or by accelerate's launcher."""
    return config_flag or os.environ.get(ENV_FLAG, "false").strip().lower() in ("1", "true", "yes")


def shard(root: nn.Module, model: nn.Module, device: torch.device, world: int) -> nn.Module:
    """Shard `model` (a T5 inside the loss module `root`) over `world` processes, in place.

    Returns `root`, now an FSDP module: call it as before; parameters are `DTensor` shards.
    """
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    from flankit.modeling.t5 import Block

    mesh = init_device_mesh(device.type, (world,))
    # nested units first: fully_shard claims every parameter of its subtree not already claimed
    tables = [m for name, m in model.named_modules() if name.endswith("relative_attention_bias")]
    for unit in [*tables, *(m for m in model.modules() if isinstance(m, Block))]:
        fully_shard(unit, mesh=mesh)
    fully_shard(root, mesh=mesh)
    return root


def gather_model(model: nn.Module, keep: bool) -> nn.Module | None:
    """An unsharded CPU copy of the sharded T5 `model` where `keep` (process 0), else None.

    Every process must call it (the weights are all-gathered). The copy is built on the meta
    device and takes the gathered tensors as they are, so no memory is spent on a throwaway
    initialisation.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if not keep:
        return None
    with torch.device("meta"):
        copy = type(model)(model.config)
    copy.load_state_dict(state, assign=True)
    return copy
