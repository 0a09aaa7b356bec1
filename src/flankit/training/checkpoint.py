"""Atomic checkpoints: `OUT/checkpoints/step-0000100/` written in a temp folder then renamed.

A checkpoint holds the model (a Hugging Face folder, or the LoRA adapter), `trainer_state.pt`
(optimizer, scheduler, RNG states, step) and the run's `config.json`. A crash or SIGKILL
mid-write leaves only a `.tmp-*` folder, which is ignored and cleaned up on the next save, so
the newest `step-*` folder is always complete. Only the last `keep_last` are kept.

The optimizer state is stored whole and keyed by parameter name
(`torch.distributed.checkpoint.state_dict`, full state on process 0's CPU): the same file
serves one process, DDP and FSDP (where it is gathered from and scattered back to the
shards), so a run may resume under another of them with the same global batch.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from flankit import config as cfgmod
from flankit.errors import ConfigError

PREFIX = "step-"
STATE_FILE = "trainer_state.pt"


def checkpoint_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = checkpoint_dir(output_dir)
    if not root.is_dir():
        return []
    found = [
        p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and (p / STATE_FILE).is_file()
    ]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX) :]))


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def optimizer_state(module: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """The full optimizer state keyed by parameter name; every process must call it.

    `module` is what the trainer calls (plain, DDP- or FSDP-wrapped); only process 0 gets the
    state, the others an empty dict.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    return get_optimizer_state_dict(
        module, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
    )


def load_optimizer_state(module: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Restore `optimizer_state`'s result on every process (each keeps its shard under FSDP)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    try:
        set_optimizer_state_dict(module, optimizer, state, options=StateDictOptions(full_state_dict=True))
    except (KeyError, ValueError, RuntimeError) as exc:
        raise ConfigError(
            f"the checkpoint's optimizer state does not fit this model/optimizer ({exc}); "
            "resume with the config saved next to the checkpoint"
        ) from None


def save_checkpoint(
    output_dir: str | Path, step: int, save_model, trainer_state: dict, cfg, keep_last: int
) -> Path:
    """Write checkpoint `step` atomically; `save_model(folder)` writes the weights."""
    root = checkpoint_dir(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    final = root / f"{PREFIX}{step:07d}"
    tmp = root / f".tmp-{PREFIX}{step:07d}-{os.getpid()}"
    save_model(tmp / "model")
    torch.save({**trainer_state, "step": step, "rng": rng_state()}, tmp / STATE_FILE)
    cfgmod.save(cfg, tmp / "config.json")
    for f in tmp.rglob("*"):  # make the data durable before the rename publishes it
        if f.is_file():
            with f.open("rb") as fh:
                os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in list_checkpoints(output_dir)[: -max(keep_last, 1)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path) -> dict:
    """The trainer state of a checkpoint folder (weights are read by the caller)."""
    try:
        return torch.load(path / STATE_FILE, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ConfigError(
            f"cannot read checkpoint {path}: {exc}. Delete it to resume from an older one."
        ) from None


def saved_config(path: Path) -> dict:
    return json.loads((path / "config.json").read_text(encoding="utf-8"))
