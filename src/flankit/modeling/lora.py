"""LoRA adapters on flankit's T5 through peft, merging, and QLoRA's 4-bit base (CUDA only).

* `apply_lora(model, r, alpha, dropout, targets)` wraps the T5 in a `peft.PeftModel`; only the
  adapter weights train. `targets` are module names (`q,v` as in the LoRA paper, or
  `all-linear`: every projection except the vocabulary head).
* `save_adapter(peft_model, folder, base)` writes peft's `adapter_config.json` and weights;
  `base` (a folder or hub id) is recorded so `merge_adapter` finds the base model.
* `merge_adapter(adapter_dir, out_dir)` folds the adapter into the base weights and writes
  a full Hugging Face checkpoint (plus the tokenizer when the adapter folder has one).
* `quantize_4bit(model)` swaps linear layers for bitsandbytes NF4 layers (QLoRA, Dettmers et
  al. 2023). bitsandbytes' 4-bit kernels need a CUDA GPU; elsewhere it says so clearly.

Reference: Hu et al. 2021 (LoRA); peft documentation for custom models.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from torch import nn

from flankit.errors import ModelError

ALL_LINEAR = ["q", "k", "v", "o", "wi", "wi_0", "wi_1", "wo"]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "spiece.model")


def target_modules(targets: str) -> list[str]:
    names = (
        ALL_LINEAR
        if targets.strip() == "all-linear"
        else [t.strip() for t in targets.split(",") if t.strip()]
    )
    unknown = [n for n in names if n not in ALL_LINEAR]
    if unknown or not names:
        raise ModelError(
            f"LoRA targets {unknown or targets!r} unknown; use names from {','.join(ALL_LINEAR)} "
            "or 'all-linear'"
        )
    return names


def apply_lora(model: nn.Module, r: int = 8, alpha: int = 16, dropout: float = 0.05, targets: str = "q,v"):
    """Wrap `model` with LoRA adapters; base weights are frozen."""
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules(targets), bias="none"
    )
    return get_peft_model(model, cfg)


def save_adapter(peft_model, folder: str | Path, base: str) -> None:
    """Save the adapter and record `base` as the model to merge into."""
    folder = Path(folder)
    peft_model.save_pretrained(str(folder))
    cfg_file = folder / "adapter_config.json"
    data = json.loads(cfg_file.read_text(encoding="utf-8"))
    data["base_model_name_or_path"] = str(base)
    cfg_file.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def load_adapter_weights(peft_model, folder: str | Path) -> None:
    """Load adapter weights saved by `save_adapter` into an already wrapped model."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = Path(folder) / "adapter_model.safetensors"
    if not weights.is_file():
        raise ModelError(f"{folder} has no adapter_model.safetensors")
    set_peft_model_state_dict(peft_model, load_file(str(weights)))


def merge_adapter(adapter_dir: str | Path, out_dir: str | Path, base: str | None = None) -> Path:
    """Write base + adapter as one full checkpoint in `out_dir`; returns `out_dir`."""
    from peft import LoraConfig

    from flankit.modeling.load import load_model

    adapter_dir, out = Path(adapter_dir), Path(out_dir)
    cfg_file = adapter_dir / "adapter_config.json"
    if not cfg_file.is_file():
        raise ModelError(f"{adapter_dir} is not a LoRA adapter folder (no adapter_config.json)")
    base = base or json.loads(cfg_file.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise ModelError(f"{cfg_file} does not name its base model; pass --base")
    lcfg = LoraConfig.from_pretrained(str(adapter_dir))
    peft_model = apply_lora(
        load_model(base), lcfg.r, lcfg.lora_alpha, 0.0, ",".join(sorted(lcfg.target_modules))
    )
    load_adapter_weights(peft_model, adapter_dir)
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(out)
    for name in TOKENIZER_FILES:
        src = adapter_dir / name
        if src.is_file():
            shutil.copy2(src, out / name)
    return out


def quantize_4bit(model: nn.Module, compute_dtype: torch.dtype = torch.bfloat16) -> nn.Module:
    """Replace linear layers (not the vocabulary head) with NF4 4-bit layers on the GPU."""
    if not torch.cuda.is_available():
        raise ModelError(
            "QLoRA (lora.quantize_4bit) needs a CUDA GPU: bitsandbytes' 4-bit kernels run only there. "
            "On this machine use plain LoRA (lora.quantize_4bit=false), which trains the same adapters."
        )
    try:
        import bitsandbytes as bnb
    except ImportError:
        raise ModelError("QLoRA needs bitsandbytes: pip install bitsandbytes") from None
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and name in ALL_LINEAR:
                q = bnb.nn.Linear4bit(
                    child.in_features,
                    child.out_features,
                    bias=False,
                    compute_dtype=compute_dtype,
                    quant_type="nf4",
                )
                q.weight = bnb.nn.Params4bit(child.weight.data.cpu(), requires_grad=False, quant_type="nf4")
                setattr(parent, name, q)
    return model.cuda()
