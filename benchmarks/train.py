"""Training throughput: flankit's trainer step (packing, `train.precision=auto`) vs Hugging Face padded.

The workload is the peer's (`../shared/anchors/peer_train.py`, `make_workload`): N examples
with FLAN-like long-tailed input/target lengths, random token ids, a flan-t5-small-shaped
model with random weights (built here with `build_tiny("small")`, saved under `.bench/`),
2 CPU threads, AdamW. The peer pads each batch of `batch` examples; flankit packs the same
examples into rows of 512 input / 128 target tokens and runs the same number of optimizer
steps through `Trainer.train_step`. Both take one untimed warm-up step first; the
three measurements alternate for `--rounds` rounds and the best of each is kept, because
the machine's cores are shared and a disturbed run says nothing about the code. Reported:
real (non-padding) tokens per second for each, the ratios, and the process's peak RSS
(flankit runs first, so `flankit_peak_rss_mb` is its own peak). flankit also runs once more
per round with dense masked attention over the packed rows (`segments.dense_attention`), so
`blocked_attention_speedup` is the gain of attending per example in the same run.

Run: `python benchmarks/train.py [--n 64] [--batch 16] [--threads 2] [--size small]`; prints one
JSON object. `--size mini` runs the demo's model shape, where attention is a larger part of a
step than in flan-t5-small's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import resource
import sys
import time
from pathlib import Path

import torch

from flankit.modeling import segments
from flankit.modeling.load import SIZES
from flankit.training import precision

REPO = Path(__file__).resolve().parents[1]
PEER = REPO.parent / "shared" / "anchors" / "peer_train.py"
BENCH = REPO / ".bench"


def load_peer():
    if not PEER.is_file():
        sys.exit(f"peer script {PEER} not found: this benchmark compares against it")
    spec = importlib.util.spec_from_file_location("peer_train", PEER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def ensure_model(size: str) -> Path:
    from flankit.modeling.load import build_tiny

    folder = BENCH / f"flan-t5-{size}-random"
    if not (folder / "model.safetensors").is_file():
        build_tiny(size, vocab_size=32128, seed=0).save_pretrained(folder)
    return folder


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def flankit_real_tok_per_s(model_dir: Path, examples, batch: int, threads: int) -> tuple[float, float, int]:
    """(real tokens/s, padding share of the packed rows, rows) through the trainer's step."""
    from flankit.data.features import pack_rows, real_tokens
    from flankit.modeling.t5 import T5
    from flankit.training.config import load_config
    from flankit.training.trainer import Trainer

    cfg = load_config(
        None,
        [
            f"output_dir={BENCH / 'train_run'}",
            f"model.name={model_dir}",
            "train.optimizer=adamw",
            "train.lr=1e-4",
            "train.precision=auto",  # bf16 where the CPU has it natively, as a user gets it
            "train.max_grad_norm=0",
            f"train.num_threads={threads}",
            "data.input_length=512",
            "data.target_length=128",
        ],
    )
    trainer = Trainer(cfg)
    trainer.build(T5.from_pretrained(model_dir).float())
    pairs = [(list(x), list(y)) for x, y in examples]
    rows = pack_rows(pairs, cfg.data.input_length, cfg.data.target_length)
    steps = math.ceil(len(examples) / batch)  # the peer's number of optimizer updates
    per = math.ceil(len(rows) / steps)
    groups = [rows[i : i + per] for i in range(0, len(rows), per)]
    trainer.train_step(pairs, groups[0], step=0)  # warm-up, not timed (as the peer does)
    start = time.perf_counter()
    for s, group in enumerate(groups, start=1):
        trainer.train_step(pairs, group, step=s)
    elapsed = time.perf_counter() - start
    real = real_tokens(pairs, rows)
    slots = len(rows) * (cfg.data.input_length + cfg.data.target_length)
    return real / elapsed, 1 - real / slots, len(rows)


def length_range(text: str) -> tuple[int, int]:
    """`LO,HI` with 1 <= LO <= HI, for --input-lengths / --target-lengths."""
    try:
        lo, hi = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give two integers LO,HI, e.g. 16,512") from None
    if not 1 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"{text!r}: need 1 <= LO <= HI")
    return lo, hi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--size",
        default="small",
        choices=sorted(SIZES),
        help="model shape: small (flan-t5-small), or the demo's mini, or tiny",
    )
    ap.add_argument("--rounds", type=int, default=2, help="Alternating rounds; the best of each is reported.")
    ap.add_argument(
        "--input-lengths",
        type=length_range,
        default=(16, 512),
        help="LO,HI of the peer workload's log-uniform input lengths; short inputs put many examples in a row",
    )
    ap.add_argument(
        "--target-lengths", type=length_range, default=(1, 128), help="LO,HI of the target lengths, likewise"
    )
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    peer = load_peer()
    model_dir = ensure_model(a.size)
    examples = peer.make_workload(a.n, 32000, in_range=a.input_lengths, tgt_range=a.target_lengths)
    ours, dense, fp32, bf16, ours_rss = 0.0, 0.0, 0.0, 0.0, None
    for _ in range(a.rounds):  # best of rounds: the 2 cores are shared, so take the least disturbed run
        tps, pack_padding, rows = flankit_real_tok_per_s(model_dir, examples, a.batch, a.threads)
        ours = max(ours, tps)
        ours_rss = ours_rss or peak_rss_mb()
        with segments.dense_attention():  # the ablation: packed rows with dense masked attention
            dense = max(dense, flankit_real_tok_per_s(model_dir, examples, a.batch, a.threads)[0])
        tps, hf_padding = peer.hf_real_tok_per_s(str(model_dir), examples, a.batch, False)
        fp32 = max(fp32, tps)
        bf16 = max(bf16, peer.hf_real_tok_per_s(str(model_dir), examples, a.batch, True)[0])
    print(
        json.dumps(
            {
                "workload": {
                    "n": a.n,
                    "batch": a.batch,
                    "threads": a.threads,
                    "rounds": a.rounds,
                    "input_lengths": list(a.input_lengths),
                    "target_lengths": list(a.target_lengths),
                    "model": f"{a.size} shape (flankit.modeling.load.SIZES), random",
                },
                "flankit_precision": precision.resolve("auto", torch.device("cpu")),
                "flankit_real_tok_per_s": round(ours, 1),
                "flankit_dense_attention_real_tok_per_s": round(dense, 1),
                "blocked_attention_speedup": round(ours / dense, 2),
                "hf_fp32_real_tok_per_s": round(fp32, 1),
                "hf_bf16_real_tok_per_s": round(bf16, 1),
                "ratio_vs_hf_fp32": round(ours / fp32, 2),
                "ratio_vs_hf_bf16": round(ours / bf16, 2),
                "flankit_padding_share": round(pack_padding, 3),
                "hf_padding_share": round(hf_padding, 3),
                "flankit_rows": rows,
                "flankit_peak_rss_mb": round(ours_rss, 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
