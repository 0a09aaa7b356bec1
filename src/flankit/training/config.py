"""The training configuration: typed dataclasses read from YAML, `--set` overrides, saved as JSON.

A config has four sections (`model`, `data`, `train`, `lora`) plus `output_dir`. Unknown keys
are errors with a suggestion (see `flankit.config`). `check_compatible` tells a resumed run
whether the saved config describes the same run (only a few keys may change on resume).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flankit import config as cfgmod
from flankit.config import field
from flankit.errors import ConfigError

PRECISIONS = ("auto", "bf16", "fp32")  # see flankit.training.precision

# keys that may differ between a run and its resumption (they do not change the math)
RESUME_MUTABLE = {
    "output_dir",  # a run folder may be moved or copied before resuming
    "train.steps",
    "train.save_every",
    "train.keep_last",
    "train.log_every",
    "train.progress",
    "train.eval_every",
    "train.num_threads",
    "train.fsdp",  # checkpoints hold the full state, whichever way it was sharded
}


@dataclass
class ModelSection:
    name: str = field(
        "tiny", help="Hub id, local HF folder, or a random size: micro, mini, tiny, small, base."
    )
    tokenizer: str | None = field(
        None,
        help="Tokenizer folder/hub id; default: the model's, or for a random "
        "size one trained on the training text.",
    )
    vocab_size: int = field(4000, help="Vocabulary size of a tokenizer trained for a random-size model.")
    dropout: float | None = field(None, help="Dropout rate to train with (None: the model config's).")
    embedding_std: float | None = field(
        None,
        help="Std of a random-size model's input embeddings (None: T5's 1.0, scaled for Adafactor's "
        "relative steps; under AdamW from scratch they hardly learn in a short run: 0.1 lets them).",
    )


@dataclass
class DataSection:
    mixture: str | None = field("builtin", help="Mixture name or YAML path (flankit.data.mixture).")
    train_file: str | None = field(
        None, help='JSONL of {"inputs", "targets"} records (instead of a mixture).'
    )
    text_files: list[str] = field(
        default_factory=list, help="Plain-text files for span-corruption pretraining."
    )
    num_examples: int = field(20000, help="Examples to sample from the mixture.")
    validation_file: str | None = field(None, help="JSONL of validation records (default: a mixture sample).")
    validation_examples: int = field(256, help="Validation examples (0 disables validation).")
    input_length: int = field(512, help="Encoder tokens per row (inputs are truncated to this).")
    target_length: int = field(128, help="Decoder tokens per row (targets are truncated to this).")
    overlong: str = field(
        "truncate",
        help="What happens to an example longer than input_length or target_length: truncate (seqio's "
        "default; a cut chain of thought loses its answer) or drop (left out of training).",
    )
    pack: bool = field(True, help="Pack several examples per row (else length-grouped batches).")
    group_packed: bool = field(
        False,
        help="Batch packed rows of similar target fill together: the decoder pads less "
        "(a batch pads to its fullest row) but each batch mixes fewer formats.",
    )
    seed: int = field(0, help="Seed of sampling and data order.")


@dataclass
class TrainSection:
    objective: str = field("seq2seq", help="seq2seq or span_corruption.")
    steps: int = field(1000, help="Optimizer steps.")
    batch_size: int = field(8, help="Rows per micro-batch per process.")
    grad_accum: int = field(1, help="Micro-batches per optimizer step.")
    optimizer: str = field("adafactor", help="adafactor (FLAN recipe) or adamw.")
    lr: float = field(1e-3, help="Peak learning rate (FLAN: 1e-3 small, 5e-4 base+).")
    schedule: str = field("constant", help="constant, linear, cosine or rsqrt (after warm-up).")
    warmup_steps: int = field(0, help="Linear warm-up steps.")
    weight_decay: float = field(0.0, help="Decoupled weight decay.")
    input_dropout: float = field(
        0.0,
        help="Word dropout: share of encoder input tokens replaced by the unknown token at each "
        "step (regularises small data sets read many times over; 0: off).",
    )
    max_grad_norm: float = field(1.0, help="Gradient clipping norm (0 disables).")
    loss_normalization: str = field(
        "token", help="token (mean over tokens) or sequence (FLAN: mean per example)."
    )
    z_loss: float = field(0.0, help="z-loss coefficient (e.g. 1e-4).")
    precision: str = field(
        "auto",
        help="auto (bf16 where the hardware has it natively, else fp32), bf16 (autocast, fp32 master weights) or fp32.",
    )
    seed: int = field(0, help="Seed of initialisation-independent randomness (dropout).")
    log_every: int = field(10, help="Steps between metric lines.")
    eval_every: int = field(0, help="Steps between validation losses (0: only at the end).")
    save_every: int = field(0, help="Steps between checkpoints (0: only at the end).")
    keep_last: int = field(2, help="Checkpoints to keep.")
    num_threads: int | None = field(None, help="torch CPU threads (None: torch's default).")
    fsdp: bool = field(
        False,
        help="Shard weights, gradients and optimizer state over the processes (FSDP2, one unit "
        "per T5 block); also on under `accelerate launch --use_fsdp`.",
    )
    progress: bool = field(True, help="Show a progress bar.")
    record_data: bool = field(False, help="Write the example ids each process trains on (audits sharding).")


@dataclass
class LoraSection:
    enabled: bool = field(False, help="Train LoRA adapters instead of all weights.")
    r: int = field(8, help="LoRA rank.")
    alpha: int = field(16, help="LoRA alpha (scale = alpha / r).")
    dropout: float = field(0.05, help="Dropout on the LoRA branch.")
    targets: str = field(
        "q,v", help="Comma-separated module names (q,k,v,o,wi,wi_0,wi_1,wo) or 'all-linear'."
    )
    quantize_4bit: bool = field(False, help="QLoRA: 4-bit base weights through bitsandbytes (CUDA only).")


@dataclass
class TrainConfig:
    output_dir: str = field("runs/train", help="Where checkpoints, metrics and the final model go.")
    model: ModelSection = field(default_factory=ModelSection, help="Model and tokenizer.")
    data: DataSection = field(default_factory=DataSection, help="Training data.")
    train: TrainSection = field(default_factory=TrainSection, help="Optimization.")
    lora: LoraSection = field(default_factory=LoraSection, help="LoRA adapters.")

    def __post_init__(self):
        t = self.train
        if t.precision == "fp16":
            raise ConfigError("fp16 overflows in T5's feed-forward; use train.precision=auto, bf16 or fp32")
        choices = {
            "train.objective": (t.objective, ("seq2seq", "span_corruption")),
            "train.precision": (t.precision, PRECISIONS),
            "train.loss_normalization": (t.loss_normalization, ("token", "sequence")),
            "train.optimizer": (t.optimizer, ("adafactor", "adamw")),
            "train.schedule": (t.schedule, ("constant", "linear", "cosine", "rsqrt")),
            "data.overlong": (self.data.overlong, ("truncate", "drop")),
        }
        for key, (value, allowed) in choices.items():
            if value not in allowed:
                raise ConfigError(f"{key}: {value!r} is not one of {', '.join(allowed)}")
        positive = {
            "train.steps": t.steps,
            "train.batch_size": t.batch_size,
            "train.grad_accum": t.grad_accum,
            "data.input_length": self.data.input_length,
            "data.target_length": self.data.target_length,
        }
        for key, value in positive.items():
            if value < 1:
                raise ConfigError(f"{key} must be >= 1, got {value}")
        if self.model.dropout is not None and not 0.0 <= self.model.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.model.dropout}")
        if self.model.embedding_std is not None and not self.model.embedding_std > 0:
            raise ConfigError(
                f"model.embedding_std must be > 0 (or null: T5's 1.0), got {self.model.embedding_std}"
            )
        if not 0.0 <= t.input_dropout < 1.0:
            raise ConfigError(f"train.input_dropout must be in [0, 1), got {t.input_dropout}")
        if t.weight_decay < 0:
            raise ConfigError(f"train.weight_decay must be >= 0, got {t.weight_decay}")
        if self.data.group_packed and not self.data.pack:
            raise ConfigError(
                "data.group_packed orders packed rows: set data.pack=true, or drop group_packed "
                "(unpacked batches are length-grouped already)"
            )


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a training config from YAML/JSON plus `key=value` overrides."""
    return cfgmod.load(TrainConfig, path, overrides)


def _flatten(data: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def check_compatible(saved: dict, current: TrainConfig) -> None:
    """Raise `ConfigError` when a resumed run's config differs in a key that changes the math."""
    new = _flatten(cfgmod.to_dict(current))
    # a key added to the config since the checkpoint was written reads as its default there
    old = {**_flatten(cfgmod.to_dict(TrainConfig())), **_flatten(saved)}
    diffs = [k for k in sorted(set(old) | set(new)) if k not in RESUME_MUTABLE and old.get(k) != new.get(k)]
    if diffs:
        detail = "; ".join(f"{k}: saved {old.get(k)!r}, now {new.get(k)!r}" for k in diffs[:5])
        raise ConfigError(
            f"cannot resume: the config differs from the checkpoint's ({detail}). Use the saved config "
            f"(config.json next to the checkpoint) or start a new output_dir."
        )
