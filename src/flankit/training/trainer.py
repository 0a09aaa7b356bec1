"""The training loop: packed batches, bf16 autocast, accumulation, clipping, exact resume, DDP/FSDP.

Run it with `flankit train --config configs/tiny.yaml [--set train.steps=200] [--resume]`, or
under `accelerate launch` / `torchrun` for several processes (see docs/training.md).

How a step works: the rows of the global batch come from `BatchPlan.step_rows(step)` (a pure
function of the config), this process takes its micro-batches (`shard`), and every
micro-batch's weighted loss sum is divided by the weight of the *global* batch and
multiplied by the number of processes (DDP averages gradients). So one process with
batch B*W, W processes with batch B, and accumulation all compute the same gradient.
Autocast runs matmuls in bf16 while the weights and optimizer stay fp32. The dropout RNG is
reseeded from (seed, step, rank) every step, so a resumed run replays the same masks.

With `train.fsdp` (or `accelerate launch --use_fsdp`) the model is sharded instead of
replicated (`fsdp.py`, one unit per T5 block); the step is the same, the reduce-scatter averages
like DDP's all-reduce, and checkpoints gather the full state on process 0.

Checkpoints (atomic, see `checkpoint.py`) hold weights, optimizer, scheduler and RNG; a
non-finite loss or gradient stops the run before anything is saved, so the newest checkpoint
is the last good one.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from flankit import config as cfgmod
from flankit.data.features import collate, real_tokens
from flankit.errors import ConfigError, FlankitError, ModelError
from flankit.training import checkpoint as ckpt
from flankit.training import fsdp, precision
from flankit.training.config import TrainConfig, check_compatible
from flankit.training.data import (
    BatchPlan,
    build_pairs,
    corpus,
    load_records,
    rows_weight,
    shard,
    truncation_report,
)
from flankit.training.monitor import Monitor, plot_loss
from flankit.training.objectives import Seq2SeqObjective, drop_tokens
from flankit.training.optim import build_optimizer, build_scheduler


class TrainingDiverged(FlankitError):
    """The loss or the gradient became NaN/inf."""


@dataclass
class StepStats:
    loss: float  # global weighted CE / global weight
    z_loss: float
    grad_norm: float
    real_tokens: int  # non-padding tokens in the global batch
    lr: float  # the learning rate this update used


def set_dropout(model: torch.nn.Module, rate: float) -> None:
    """Set every dropout in flankit's T5 (modules and the attention-probability dropout)."""
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = rate
        elif hasattr(m, "dropout") and isinstance(m.dropout, float):
            m.dropout = rate
    if hasattr(model, "config"):
        model.config.dropout_rate = rate


class Trainer:
    """Owns the model, optimizer and schedule; `train()` runs a whole config."""

    def __init__(self, config: TrainConfig):
        from accelerate import Accelerator

        self.cfg = config
        if config.train.num_threads:
            torch.set_num_threads(config.train.num_threads)
        self.accelerator = Accelerator(cpu=not torch.cuda.is_available())
        self.device = self.accelerator.device
        self.rank, self.world = self.accelerator.process_index, self.accelerator.num_processes
        self.is_main = self.accelerator.is_main_process
        self.fsdp = fsdp.requested(config.train.fsdp) and self.world > 1  # one process: nothing to shard
        if fsdp.requested(config.train.fsdp) and (config.lora.enabled or config.lora.quantize_4bit):
            raise ConfigError(
                "FSDP (train.fsdp or accelerate's --use_fsdp) shards full fine-tuning only; LoRA "
                "adapters are small enough to replicate: set train.fsdp=false and launch without --use_fsdp"
            )
        self.autocast_dtype = precision.autocast_dtype(config.train.precision, self.device)
        self.out = Path(config.output_dir)
        self._lora_base = config.model.name
        # word dropout's (<unk>, ids never replaced); train() reads them off its tokenizer
        self._word_dropout: tuple[int, tuple[int, ...]] | None = None

    # ----- setup -------------------------------------------------------------------------
    def build(self, model: torch.nn.Module) -> None:
        """Wrap `model` (a T5) with LoRA if asked, the loss module, optimizer and schedule."""
        t, lora = self.cfg.train, self.cfg.lora
        if self.cfg.model.dropout is not None:
            set_dropout(model, self.cfg.model.dropout)
        if lora.quantize_4bit:
            from flankit.modeling.lora import quantize_4bit

            model = quantize_4bit(model)
        if lora.enabled:
            from flankit.modeling.lora import apply_lora

            model = apply_lora(model, lora.r, lora.alpha, lora.dropout, lora.targets)
        elif lora.quantize_4bit:
            raise ConfigError(
                "lora.quantize_4bit needs lora.enabled=true (4-bit base weights cannot be trained)"
            )
        self.model = model.to(self.device).train()
        objective = Seq2SeqObjective(self.model, t.loss_normalization, t.z_loss)
        if self.fsdp:
            self.objective = fsdp.shard(objective, self.model, self.device, self.world)
        else:
            self.objective = self.accelerator.prepare_model(objective)
        self.optimizer = build_optimizer(self.model.parameters(), t.optimizer, t.lr, t.weight_decay)
        self.scheduler = build_scheduler(self.optimizer, t.schedule, t.warmup_steps, t.steps)

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    # ----- one optimizer step ------------------------------------------------------------
    def train_step(self, pairs, rows: list[list[int]], step: int = 0) -> StepStats:
        """One optimizer update on the global batch `rows` (this process trains its share)."""
        t = self.cfg.train
        if t.input_dropout and self._word_dropout is None:
            raise ConfigError(
                "train.input_dropout needs the tokenizer's <unk>, which train() reads: call train(), "
                "or set train.input_dropout=0 to drive train_step yourself"
            )
        torch.manual_seed((t.seed * 1_000_003 + step) * 131 + self.rank)
        denominator = rows_weight(pairs, rows, t.loss_normalization) / self.world
        micro = shard(rows, self.rank, self.world, len(rows) // (self.world * t.grad_accum))
        sums = torch.zeros(2, device=self.device)
        for m, mrows in enumerate(micro):
            batch = {k: v.to(self.device, non_blocking=True) for k, v in collate(pairs, mrows).items()}
            if t.input_dropout:
                batch["input_ids"] = drop_tokens(batch["input_ids"], t.input_dropout, *self._word_dropout)
            # FSDP reduce-scatters after every micro-batch so that gradients stay sharded
            sync = m == len(micro) - 1 or self.world == 1 or self.fsdp
            with (
                contextlib.nullcontext() if sync else self.accelerator.no_sync(self.objective),
                self._autocast(),
            ):
                terms = self.objective(batch, denominator)
                terms.loss.backward()
            sums += torch.stack([terms.ce_sum, terms.z_sum])
        if self.world > 1:
            sums = self.accelerator.reduce(sums, reduction="sum")
        weight = rows_weight(pairs, rows, t.loss_normalization)
        loss, z = (sums / weight).tolist()
        params = [p for p in self.model.parameters() if p.requires_grad]
        norm = torch.nn.utils.clip_grad_norm_(
            params, t.max_grad_norm if t.max_grad_norm > 0 else float("inf")
        )
        if hasattr(norm, "full_tensor"):  # FSDP: a replicated DTensor
            norm = norm.full_tensor()
        if not (torch.isfinite(norm) and torch.isfinite(torch.tensor(loss))):
            self.optimizer.zero_grad(set_to_none=True)
            raise TrainingDiverged(f"loss {loss} / gradient norm {float(norm)} at step {step + 1}")
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return StepStats(loss, z, float(norm), real_tokens(pairs, rows), lr)

    # ----- checkpoints ---------------------------------------------------------------------
    def _full_model(self) -> torch.nn.Module | None:
        """The model to write: itself, or under FSDP an unsharded copy on process 0 (None on
        the others); every process must call it."""
        return fsdp.gather_model(self.model, self.is_main) if self.fsdp else self.model

    def _save_model(self, model: torch.nn.Module, folder: Path, tokenizer=None) -> None:
        if self.cfg.lora.enabled:
            from flankit.modeling.lora import save_adapter

            save_adapter(model, folder, self._lora_base)
        else:
            model.save_pretrained(folder)
        if tokenizer is not None:
            tokenizer.save_pretrained(str(folder))

    def save(self, step: int, tokenizer) -> None:
        model = self._full_model()
        state = {
            "optimizer": ckpt.optimizer_state(self.objective, self.optimizer),
            "scheduler": self.scheduler.state_dict(),
        }
        if self.is_main:
            ckpt.save_checkpoint(
                self.out,
                step,
                lambda f: self._save_model(model, f, tokenizer),
                state,
                self.cfg,
                self.cfg.train.keep_last,
            )
        self.accelerator.wait_for_everyone()

    def _restore(self, path: Path) -> int:
        state = ckpt.load_checkpoint(path)
        if self.cfg.lora.enabled:
            from flankit.modeling.lora import load_adapter_weights

            load_adapter_weights(self.model, path / "model")
        ckpt.load_optimizer_state(self.objective, self.optimizer, state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        ckpt.set_rng_state(state["rng"])
        return int(state["step"])

    # ----- the run -------------------------------------------------------------------------
    def _resume_point(self, resume: bool) -> Path | None:
        existing = ckpt.list_checkpoints(self.out)
        if not resume:
            if existing:
                raise ConfigError(
                    f"{self.out} already has checkpoints ({existing[-1].name}); pass --resume to continue "
                    "that run, or choose another output_dir"
                )
            return None
        if not existing:
            raise ConfigError(f"nothing to resume: {self.out} has no complete checkpoint")
        check_compatible(ckpt.saved_config(existing[-1]), self.cfg)
        return existing[-1]

    def _tokenizer(self, records):
        from flankit.modeling.load import SIZES, load_tokenizer, train_tokenizer

        m = self.cfg.model
        if m.tokenizer:
            return load_tokenizer(m.tokenizer)
        if m.name not in SIZES:
            return load_tokenizer(m.name)
        folder = self.out / "tokenizer"
        if self.is_main and not (folder / "tokenizer_config.json").is_file():
            texts = list(corpus(records))
            if self.cfg.data.text_files:
                from flankit.training.data import read_texts

                texts += read_texts(self.cfg.data.text_files)
            train_tokenizer(texts, folder, m.vocab_size)
        self.accelerator.wait_for_everyone()
        return load_tokenizer(folder)

    def _load_model(self, tokenizer, resume_from: Path | None):
        from flankit.modeling.load import SIZES, load_model
        from flankit.modeling.t5 import T5

        name = self.cfg.model.name
        if resume_from is not None and not self.cfg.lora.enabled:
            return T5.from_pretrained(resume_from / "model").float()
        model = load_model(
            name, "fp32", vocab_size=len(tokenizer), embedding_std=self.cfg.model.embedding_std
        ).float()
        if len(tokenizer) > model.config.vocab_size:
            raise ModelError(
                f"the tokenizer has {len(tokenizer)} tokens but model {name!r} only "
                f"{model.config.vocab_size} embeddings: use the model's own tokenizer"
            )
        self._lora_base = name
        if self.cfg.lora.enabled and name in SIZES:  # a random base must be kept to merge into later
            self._lora_base = str((self.out / "base_model").resolve())
            if self.is_main and not (self.out / "base_model" / "config.json").is_file():
                model.save_pretrained(self.out / "base_model")
        return model

    def _validate(self, pairs, plan_rows) -> float:
        """Token-mean validation loss; the processes split the rows and sum their results."""
        was = self.model.training
        self.model.eval()
        sums = torch.zeros(2, dtype=torch.float64, device=self.device)
        bs = self.cfg.train.batch_size
        with torch.no_grad(), self._autocast():
            for i in range(0, len(plan_rows), bs * self.world):
                rows = plan_rows[i : i + bs * self.world][self.rank * bs : (self.rank + 1) * bs]
                # every process runs every forward (FSDP gathers weights inside it); one
                # without rows left repeats a row and does not count it
                batch = {k: v.to(self.device) for k, v in collate(pairs, rows or plan_rows[:1]).items()}
                ce = self.objective(batch, 1.0, normalization="token").ce_sum
                if rows:
                    sums[0] += ce.double()
                    sums[1] += rows_weight(pairs, rows, "token")
        if self.world > 1:
            sums = self.accelerator.reduce(sums, reduction="sum")
        self.model.train(was)
        return float(sums[0] / sums[1].clamp(min=1.0))

    def train(self, resume: bool = False) -> dict:
        """Run the config; returns a summary (final loss, steps, output folders)."""
        from flankit.data.features import pack_rows

        c, t = self.cfg, self.cfg.train
        resume_from = self._resume_point(resume)
        self.out.mkdir(parents=True, exist_ok=True)
        records = load_records(c.data, "train")
        tokenizer = self._tokenizer(records)
        if t.input_dropout and tokenizer.unk_token_id is None:
            raise ConfigError(
                "train.input_dropout replaces tokens by <unk>: this tokenizer has none; set it to 0"
            )
        # padding, </s> and span corruption's sentinels are never replaced
        self._word_dropout = (tokenizer.unk_token_id, tuple(tokenizer.all_special_ids))
        cut: Counter = Counter()
        pairs = build_pairs(c, tokenizer, records, cut)
        self.truncation = truncation_report(cut, len(records), c.data)
        if "warning" in self.truncation and self.is_main:
            warnings.warn(f"training data: {self.truncation['warning']}", stacklevel=2)
        val_records = load_records(c.data, "validation")
        val_pairs = build_pairs(c, tokenizer, val_records) if val_records else []
        val_rows = pack_rows(val_pairs, c.data.input_length, c.data.target_length) if val_pairs else []
        plan = BatchPlan(pairs, c.data, t.batch_size * t.grad_accum * self.world)
        self.build(self._load_model(tokenizer, resume_from))
        start = self._restore(resume_from) if resume_from is not None else 0
        if self.is_main:
            cfgmod.save(c, self.out / "config.json")
        mon = Monitor(self.out, t.steps, start, self.is_main, t.progress)
        record = (self.out / f"data_rank{self.rank}.jsonl").open("a") if t.record_data else None
        tokens, clock, stats = 0, time.perf_counter(), None
        last_val = None
        try:
            for step in range(start, t.steps):
                rows = plan.step_rows(step)
                if record is not None:
                    mine = [r for mb in shard(rows, self.rank, self.world, t.batch_size) for r in mb]
                    record.write(f'{{"step": {step + 1}, "rows": {mine}}}\n')
                try:
                    stats = self.train_step(pairs, rows, step)
                except TrainingDiverged as exc:
                    last = ckpt.list_checkpoints(self.out)
                    keep = (
                        f"the last good checkpoint is {last[-1]}" if last else "no checkpoint was written yet"
                    )
                    raise TrainingDiverged(
                        f"training diverged: {exc}; {keep}. Lower train.lr, add warm-up, "
                        "or set train.max_grad_norm / train.z_loss"
                    ) from None
                tokens += stats.real_tokens
                done = step + 1
                rate = tokens / max(time.perf_counter() - clock, 1e-9)
                lr = stats.lr
                mon.advance(done, stats.loss, lr, rate)
                if done % max(t.log_every, 1) == 0 or done == t.steps:
                    mon.log(
                        {
                            "step": done,
                            "loss": stats.loss,
                            "z_loss": stats.z_loss,
                            "lr": lr,
                            "grad_norm": stats.grad_norm,
                            "tokens_per_s": rate,
                            "epoch": step / plan.steps_per_epoch,
                        }
                    )
                if val_rows and ((t.eval_every and done % t.eval_every == 0) or done == t.steps):
                    last_val = self._validate(val_pairs, val_rows)
                    mon.log({"step": done, "val_loss": last_val})
                if (t.save_every and done % t.save_every == 0) or done == t.steps:
                    self.save(done, tokenizer)
        finally:
            mon.close()
            if record is not None:
                record.close()
        return self._finish(tokenizer, stats, last_val, start)

    def _finish(self, tokenizer, stats: StepStats | None, val_loss, start: int) -> dict:
        final = self.out / ("adapter" if self.cfg.lora.enabled else "model")
        model = self._full_model()
        if self.is_main:
            self._save_model(model, final, tokenizer)
            plot_loss(self.out / "metrics.jsonl", self.out / "loss.png")
        self.accelerator.wait_for_everyone()
        return {
            "steps": self.cfg.train.steps,
            "resumed_from": start,
            "final_loss": stats.loss if stats else None,
            "val_loss": val_loss,
            "precision": precision.describe(self.autocast_dtype),
            "truncation": self.truncation,
            "model_dir": str(final),
            "output_dir": str(self.out),
        }


def train(config: TrainConfig, resume: bool = False) -> dict:
    """Train with `config`; see `Trainer.train`."""
    return Trainer(config).train(resume=resume)
