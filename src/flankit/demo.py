"""The offline end-to-end demo: a miniature FLAN-T5 trained, evaluated and shown in minutes.

`flankit demo` (and `make demo`) runs, on a 2-core CPU with no network:

1. a tokenizer trained on the builtin catalog's text and a tiny random T5 (the trainer does
   both for a named random size), optionally warmed up with span corruption (`pretrain_share`
   of the steps, on the mixture's text or on `pretrain_text` files) before instruction tuning;
2. instruction tuning on the `builtin` mixture, whose held-out templates are never trained on;
3. evaluation of the builtin classification tasks on seen and held-out templates, zero- and
   few-shot, with the robustness statistics of the evaluation harness;
4. a compact table, live examples (a zero-shot instruction in unseen words, a few-shot prompt,
   a constrained classification with option scores, a step-by-step arithmetic answer), and
   `report.md` with plots; the model folder works with `flankit generate|eval|serve`.

Everything is seeded and the step count is fixed (not timed), so a seed gives the same
numbers on the same machine. An interrupted run continues with `--resume`.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from flankit.config import field
from flankit.errors import ConfigError, FlankitError

MIN_FREE_MB = 300  # checkpoints, model, plots of the tiny model fit well within this


@dataclass
class DemoConfig:
    out: str = field("demo_out", help="Output folder (model/, report.md, results.json, plots).")
    minutes: float = field(10.0, help="Wall-clock budget on a 2-core CPU; sets the number of training steps.")
    seed: int = field(0, help="Seed of data, initialisation and evaluation.")
    size: str = field("micro", help="Random model size (flankit.modeling.load.SIZES).")
    vocab_size: int = field(2000, help="Vocabulary of the tokenizer trained on the mixture text.")
    mixture: str = field("demo", help="Training mixture (held-out templates are excluded by it).")
    steps_per_minute: float = field(
        150.0,
        help="Training steps one minute buys on the reference 2-core CPU (an AMD EPYC with AVX2 only, "
        "2 threads, fp32: the slowest the demo has met, with room for its speed to drift; CPUs with "
        "native bf16 are faster).",
    )
    train_share: float = field(0.9, help="Share of the budget spent training (the rest: setup, evaluation).")
    train_steps: int = field(0, help="Training steps, warm-up included; 0: what `minutes` buys.")
    batch_size: int = field(32, help="Packed rows per step.")
    input_length: int = field(192, help="Encoder tokens per packed row.")
    target_length: int = field(64, help="Decoder tokens per packed row.")
    overlong: str = field(
        "truncate", help="Examples over input_length or target_length: truncate or drop (data.overlong)."
    )
    group_packed: bool = field(
        True, help="Batch packed rows of similar target fill together (less decoder padding)."
    )
    lr: float = field(2e-3, help="Peak learning rate (AdamW, linear decay after warm-up).")
    dropout: float = field(
        0.0,
        help="Dropout rate while training, warm-up included (regularises small data sets read many times over).",
    )
    weight_decay: float = field(0.0, help="Decoupled weight decay of AdamW.")
    embedding_std: float | None = field(
        None, help="Std of the random model's input embeddings (model.embedding_std; None: T5's 1.0)."
    )
    input_dropout: float = field(
        0.0, help="Word dropout: share of input tokens replaced by <unk> at each step (train.input_dropout)."
    )
    loss_normalization: str = field(
        "sequence", help="sequence (FLAN: every example weighs the same) or token."
    )
    eval_limit: int = field(60, help="Test items per (task, template, shots) cell.")
    shots: list[int] = field(
        default_factory=lambda: [0, 1],
        help="Few-shot settings evaluated (1-shot prompts stay within the trained lengths).",
    )
    threads: int = field(2, help="CPU threads.")
    pretrain_share: float = field(
        0.0, help="Share of the training steps spent first on span-corruption warm-up (T5's objective)."
    )
    pretrain_text: list[str] = field(
        default_factory=list,
        help="Plain-text files (a passage per line) for the warm-up; empty: the mixture's own text.",
    )

    @property
    def steps(self) -> int:
        """All training steps: the warm-up's and instruction tuning's."""
        if self.train_steps:
            return self.train_steps
        return max(10, int(self.minutes * self.train_share * self.steps_per_minute))

    @property
    def pretrain_steps(self) -> int:
        return int(self.steps * self.pretrain_share)


def _check_budget(cfg: DemoConfig) -> None:
    """Refuse a bad step budget or warm-up setting before anything is written."""
    if cfg.train_steps < 0:
        raise ConfigError(
            f"train_steps must be 0 (from minutes) or a positive step count, got {cfg.train_steps}"
        )
    if not 0.0 <= cfg.pretrain_share < 1.0:
        raise ConfigError(f"pretrain_share must be in [0, 1), got {cfg.pretrain_share}")
    missing = [f for f in cfg.pretrain_text if not Path(f).is_file()]
    if missing:
        raise ConfigError(f"pretrain_text {missing} not found: give plain-text files with a passage per line")


def _check_disk(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    free_mb = shutil.disk_usage(out).free / 2**20
    if free_mb < MIN_FREE_MB:
        raise FlankitError(
            f"only {free_mb:.0f} MiB free under {out}; the demo needs about {MIN_FREE_MB} MiB. "
            "Free some space or pass --out on another disk."
        )


def train_config(cfg: DemoConfig, model: str | None = None):
    """Instruction tuning of `model` (default: a random `cfg.size` T5 with a tokenizer trained here)."""
    from flankit.training.config import DataSection, ModelSection, TrainConfig, TrainSection

    steps = cfg.steps - cfg.pretrain_steps
    return TrainConfig(
        output_dir=str(Path(cfg.out) / "train"),
        model=ModelSection(
            name=model or cfg.size,
            vocab_size=cfg.vocab_size,
            dropout=cfg.dropout,
            # the warm-up's trained model keeps the embeddings it learned
            embedding_std=None if model else cfg.embedding_std,
        ),
        data=DataSection(
            mixture=cfg.mixture,
            num_examples=steps * cfg.batch_size * 3,
            validation_examples=128,
            input_length=cfg.input_length,
            target_length=cfg.target_length,
            overlong=cfg.overlong,
            pack=True,
            group_packed=cfg.group_packed,
            seed=cfg.seed,
        ),
        train=TrainSection(
            steps=steps,
            batch_size=cfg.batch_size,
            optimizer="adamw",
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            input_dropout=cfg.input_dropout,
            schedule="linear",
            loss_normalization=cfg.loss_normalization,
            warmup_steps=max(1, steps // 20),
            precision="auto",
            seed=cfg.seed,
            log_every=10,
            save_every=max(1, steps // 4),
            keep_last=1,
            num_threads=cfg.threads,
        ),
    )


def warmup_config(cfg: DemoConfig):
    """The span-corruption warm-up: a random T5 and the tokenizer, trained on plain text first."""
    tcfg = train_config(cfg)
    steps = cfg.pretrain_steps
    return replace(
        tcfg,
        output_dir=str(Path(cfg.out) / "pretrain"),
        data=replace(tcfg.data, text_files=list(cfg.pretrain_text)),
        train=replace(
            tcfg.train,
            objective="span_corruption",
            steps=steps,
            warmup_steps=max(1, steps // 20),
            save_every=max(1, steps // 2),
        ),
    )


def _train_stage(tcfg, resume: bool) -> dict:
    """Train one stage; with `resume`, a stage that has checkpoints continues and one without starts."""
    from flankit.training import checkpoint as ckpt
    from flankit.training.trainer import train

    return train(tcfg, resume=resume and bool(ckpt.list_checkpoints(Path(tcfg.output_dir))))


def classification_tasks() -> list[str]:
    from flankit.data.tasks import builtin_tasks

    return [t.name for t in builtin_tasks() if t.kind == "classification"]


def summarize(results: dict) -> dict:
    """Seen vs held-out template accuracy (zero-shot) and zero- vs few-shot, per task and mean."""
    per_task: dict[str, dict] = {}
    for c in results["cells"]:
        d = per_task.setdefault(c["task"], {"seen": [], "heldout": [], "shots": {}})
        acc = c["scores"][c["metric"]]
        if c["shots"] == 0:
            d["heldout" if c["heldout"] else "seen"].append(acc)
        d["shots"].setdefault(str(c["shots"]), []).append(acc)
    table = {}
    for task, d in sorted(per_task.items()):
        table[task] = {
            "seen_template_accuracy": statistics.fmean(d["seen"]) if d["seen"] else None,
            "heldout_template_accuracy": statistics.fmean(d["heldout"]) if d["heldout"] else None,
            "by_shots": {k: statistics.fmean(v) for k, v in sorted(d["shots"].items())},
        }
    robust = {r["task"]: r for r in results.get("robustness", []) if r["shots"] == 0 and not r["cot"]}
    for task, row in table.items():
        if task in robust:
            row["robustness_zero_shot"] = {
                k: robust[task][k] for k in ("mean", "std", "min", "max", "spread", "cps")
            }

    def mean(key):
        vals = [row[key] for row in table.values() if row[key] is not None]
        return statistics.fmean(vals) if vals else None

    return {
        "seen_template_accuracy": mean("seen_template_accuracy"),
        "heldout_template_accuracy": mean("heldout_template_accuracy"),
        "per_task": table,
    }


def run_demo(cfg: DemoConfig, resume: bool = False, console=None) -> dict:
    """Run the whole demo; returns the results document also written to OUT/results.json."""
    import torch
    from rich.console import Console

    from flankit import config as cfgmod
    from flankit.demo_report import live_examples, print_summary, write_demo_report
    from flankit.evaluation.harness import EvalConfig, evaluate
    from flankit.evaluation.report import write_report
    from flankit.inference.engine import Engine
    from flankit.training import precision

    console = console or Console()
    out = Path(cfg.out)
    _check_budget(cfg)
    _check_disk(out)
    torch.set_num_threads(cfg.threads)
    cfgmod.save(cfg, out / "demo_config.json")
    t0 = time.perf_counter()
    wcfg = warmup_config(cfg) if cfg.pretrain_steps else None
    warm = None
    if wcfg:
        console.rule(
            f"[bold]1-2. tokenizer, tiny T5 ({cfg.size}), span-corruption warm-up: {wcfg.train.steps} steps"
        )
        warm = _train_stage(wcfg, resume)
    tcfg = train_config(cfg, warm["model_dir"] if warm else None)
    stage = "3." if warm else f"1-3. tokenizer, tiny T5 ({cfg.size}),"
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # the trainer's choice
    prec = precision.resolve(tcfg.train.precision, device)
    console.rule(f"[bold]{stage} instruction tuning: {tcfg.train.steps} steps in {prec}")
    if prec == "fp32" and device.type == "cpu":
        console.print("this CPU has no native bf16 (AVX512-BF16/AMX): training in fp32, about twice as slow")
    summary = _train_stage(tcfg, resume)
    model_dir = out / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    shutil.copytree(summary["model_dir"], model_dir)
    t_train = time.perf_counter() - t0

    console.rule("[bold]4. evaluation: seen vs held-out templates, zero- vs few-shot")
    engine = Engine.from_pretrained(str(model_dir))
    ecfg = EvalConfig(
        tasks=classification_tasks(),
        templates="all",
        shots=list(cfg.shots),
        limit=cfg.eval_limit,
        seed=cfg.seed,
        n_boot=200,
        batch_size=32,
    )
    results = _evaluate_with_progress(engine, ecfg, evaluate, console)
    write_report(results, out / "eval")
    t_eval = time.perf_counter() - t0 - t_train

    console.rule("[bold]5. live examples")
    examples = live_examples(engine, cfg.seed)
    doc = {
        **summarize(results),
        "seed": cfg.seed,
        "config": {
            "demo": asdict(cfg),
            **({"pretrain": cfgmod.to_dict(wcfg)} if wcfg else {}),
            "train": cfgmod.to_dict(tcfg),
            "eval": asdict(ecfg),
        },
        "train": _train_summary(summary),
        **({"pretrain": _train_summary(warm)} if warm else {}),
        "robustness": results["robustness"],
        "template_gap": results["template_gap"],
        "shot_gap": results["shot_gap"],
        "examples": examples,
        "timing_s": {"train": round(t_train, 1), "eval": round(t_eval, 1)},
        "model_dir": str(model_dir),
    }
    (out / "results.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    write_demo_report(doc, out, Path(summary["output_dir"]) / "loss.png")
    print_summary(doc, console)
    return doc


def _train_summary(summary: dict) -> dict:
    """Steps and last losses, read from metrics.jsonl so a resumed (already finished) run reports them too."""
    from flankit.training.monitor import read_metrics

    rows = read_metrics(Path(summary["output_dir"]) / "metrics.jsonl")
    last = lambda key: next((r[key] for r in reversed(rows) if key in r), None)  # noqa: E731
    return {
        "steps": summary["steps"],
        "precision": summary["precision"],
        "final_loss": last("loss"),
        "val_loss": last("val_loss"),
        "truncation": summary.get("truncation"),
    }


def _evaluate_with_progress(engine, ecfg, evaluate, console) -> dict:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        job = bar.add_task("evaluating", total=None)
        return evaluate(
            engine, ecfg, model_name="demo", progress=lambda d, t: bar.update(job, completed=d, total=t)
        )
