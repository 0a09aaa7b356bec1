"""Rank classification speed: shared-encoder scoring vs one full forward pass per option (T0-style).

Usage: `python benchmarks/classify.py [--model DIR | --shape small|base] [--n 32] [--options 2,4,8]
[--threads 2] [--repeats 2]`

Both sides score the same prompts (random token ids, 48-96 tokens, the generation workload)
against k short options and must agree on the scores; the report gives the speed-up per k,
from wall time and from process CPU time, and the target (>= 0.6 x k for k >= 4). Without
--model a random model of the flan-t5-`--shape` shape under .bench/ is used. The shared side
encodes each prompt once and teacher-forces the options of a prompt as one token tree in one
decoder row (`flankit.inference.scoring`). The two sides run alternately `--repeats` times
and each keeps its fastest run, so a burst of load from other processes on a shared machine
skews the ratio less (on a loaded machine `--threads 1` is the steadier measure: two threads
spin-wait for each other when one is descheduled). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flankit.inference.decoding import pad_ids  # noqa: E402
from flankit.inference.scoring import score_options  # noqa: E402
from flankit.modeling.t5 import T5  # noqa: E402
from generate import default_model, make_workload  # noqa: E402


@torch.inference_mode()
def per_option_forward(model: T5, prompts, options) -> list[list[float]]:
    """The baseline: each prompt is repeated once per option and run through the full model
    (encoder included) in one batch of k rows, as T0-style scoring does."""
    out = []
    for prompt, opts in zip(prompts, options, strict=True):
        labels, lmask = pad_ids(opts, 0)
        logits = model(
            input_ids=torch.tensor([prompt] * len(opts)), labels=labels.masked_fill(lmask == 0, -100)
        ).logits
        logp = logits.float().log_softmax(-1).gather(2, labels[..., None]).squeeze(2)
        out.append((logp * lmask).sum(1).tolist())
    return out


def timed(fn):
    """(wall seconds, process CPU seconds, result): CPU time counts only the time this process
    ran, so it is far less skewed than wall time when other jobs share the cores."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--shape", choices=("small", "base"), default="small")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--options", default="2,4,8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = T5.from_pretrained(a.model or default_model(a.shape))
    vocab = min(model.config.vocab_size, 32000)
    prompts = make_workload(a.n, 48, 96, vocab)
    rnd = random.Random(1)
    report = {"n_prompts": a.n, "threads": a.threads, "repeats": a.repeats, "by_options": {}}
    for k in map(int, a.options.split(",")):
        options = [
            [[rnd.randrange(3, vocab) for _ in range(rnd.randint(1, 4))] + [1] for _ in range(k)]
        ] * a.n
        score_options(model, prompts[:2], options[:2])  # warm-up
        best = {"shared": [float("inf")] * 2, "base": [float("inf")] * 2}  # [wall, cpu]
        for _ in range(a.repeats):  # alternate the two sides so load bursts hit both alike
            *t, shared = timed(lambda options=options: score_options(model, prompts, options))
            best["shared"] = [min(x, y) for x, y in zip(best["shared"], t, strict=True)]
            *t, base = timed(lambda options=options: per_option_forward(model, prompts, options))
            best["base"] = [min(x, y) for x, y in zip(best["base"], t, strict=True)]
        (wall_shared, cpu_shared), (wall_base, cpu_base) = best["shared"], best["base"]
        diff = max(
            abs(s[0] - b)
            for row_s, row_b in zip(shared, base, strict=True)
            for s, b in zip(row_s, row_b, strict=True)
        )
        report["by_options"][k] = {
            "shared_s": round(wall_shared, 3),
            "per_option_s": round(wall_base, 3),
            "speedup": round(wall_base / wall_shared, 2),
            "shared_cpu_s": round(cpu_shared, 3),
            "per_option_cpu_s": round(cpu_base, 3),
            "speedup_cpu_time": round(cpu_base / cpu_shared, 2),
            "target": round(0.6 * k, 2) if k >= 4 else None,
            "max_abs_score_diff": diff,
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
