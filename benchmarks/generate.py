"""Generation throughput: flankit's engine vs transformers and CTranslate2 on the same workload.

Usage: `python benchmarks/generate.py [--shape small|base | --model DIR] [--n 64] [--new-tokens 32]
[--threads 2] [--repeats 3] [--drift-model DIR]`

The workload is `make_workload` from `../shared/anchors/peer_generate.py` (random prompt token
ids, every request generates exactly `new_tokens` greedily). Peers run as a typical user runs
them (batch 16; CTranslate2 int8 also at 64); flankit gets the whole list and picks its own
batching. Each engine's timed pass runs `--repeats` times, the engines taking turns (so a
burst of load on a shared machine hits all of them alike), and each engine reports its best
pass (timeit's convention: the minimum time is the least disturbed). Without --model, a random model of the flan-t5-`--shape` shape is written under .bench/.
Quality drift (agreement of bf16/int8 greedy outputs with fp32) is measured on a *trained*
model (`--drift-model`, default .bench/trained-mini when present) over SST-2 review prompts;
without one it falls back to the benchmark model, where random weights make it a stress test.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent / "shared" / "anchors"))
from peer_generate import ct2_tok_per_s, hf_tok_per_s, make_workload  # noqa: E402

from flankit.inference.backends import NativeBackend  # noqa: E402
from flankit.inference.engine import Engine, GenerationConfig  # noqa: E402
from flankit.modeling.export import export_ctranslate2  # noqa: E402

DTYPES = ("fp32", "bf16", "int8")
SST2 = ROOT.parent / "shared" / "external" / "sst2" / "stsa.binary.dev"


def default_model(shape: str = "small") -> Path:
    from flankit.modeling.load import build_tiny

    folder = ROOT / ".bench" / f"flan-t5-{shape}-random"
    if not (folder / "config.json").is_file():
        build_tiny(shape).eval().save_pretrained(folder)
    return folder


def flankit_engine(folder: Path, dtype: str) -> Engine:
    """The native engine at `dtype`, after one small untimed call."""
    engine = Engine(NativeBackend(folder, dtype), tokenizer=None)
    engine.generate_ids([[5, 6, 7, 8, 1]], GenerationConfig(max_new_tokens=4))
    return engine


def flankit_run(engine: Engine, prompts, new_tokens: int):
    """(tokens/s, outputs) of one timed pass of the native engine."""
    cfg = GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens)
    start = time.perf_counter()
    out = engine.generate_ids(prompts, cfg)
    elapsed = time.perf_counter() - start
    return len(prompts) * new_tokens / elapsed, [r[0].token_ids for r in out]


def agreement(ref: list[list[int]], other: list[list[int]]) -> dict:
    """Share of identical sequences, and of positions where the token equals fp32's."""
    same_tokens = sum(p == q for x, y in zip(ref, other, strict=True) for p, q in zip(x, y, strict=False))
    return {
        "sequence_agreement": round(sum(x == y for x, y in zip(ref, other, strict=True)) / len(ref), 3),
        "token_agreement": round(same_tokens / max(1, sum(map(len, ref))), 3),
    }


def drift_on_trained(folder: Path, n: int, new_tokens: int) -> dict:
    """bf16/int8 vs fp32 greedy outputs of a trained model on SST-2 review prompts."""
    lines = SST2.read_text(encoding="utf-8").splitlines()[:n] if SST2.is_file() else []
    texts = [f"Review: {line[2:]}\nIs this review positive or negative?" for line in lines]
    texts = texts or [f"Summarize: item {i} of the list is a short note." for i in range(n)]
    outs = {}
    for dtype in DTYPES:
        engine = Engine.from_pretrained(folder, dtype=dtype)
        outs[dtype] = [g.token_ids for g in engine.generate(texts, max_new_tokens=new_tokens, truncate=True)]
    report = {dt: agreement(outs["fp32"], outs[dt]) for dt in ("bf16", "int8")}
    return {"model": str(folder), "trained": True, "prompts": len(texts), **report}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--shape", choices=("small", "base"), default="small")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="timed passes per engine (the best counts)")
    ap.add_argument("--drift-model", type=Path, default=ROOT / ".bench" / "trained-mini")
    ap.add_argument("--skip-peers", action="store_true", help="only measure flankit")
    a = ap.parse_args()
    if a.repeats < 1:
        ap.error("--repeats must be at least 1")
    torch.set_num_threads(a.threads)
    folder = a.model or default_model(a.shape)
    vocab = json.loads((folder / "config.json").read_text())["vocab_size"]
    prompts = make_workload(a.n, 48, 96, min(vocab, 32000))
    engines = {dtype: flankit_engine(folder, dtype) for dtype in DTYPES}
    runs: dict[str, Callable[[], float]] = {}
    outs: dict[str, list[list[int]]] = {}
    for dtype, engine in engines.items():

        def run(engine=engine, dtype=dtype) -> float:
            tps, outs[dtype] = flankit_run(engine, prompts, a.new_tokens)
            return tps

        runs[f"flankit_{dtype}"] = run
    if not a.skip_peers:
        ct2_dir = Path(str(folder.resolve()).rstrip("/") + "-ct2")  # where the peer script looks for it
        if not (ct2_dir / "model.bin").is_file():
            export_ctranslate2(folder, ct2_dir, force=True)
        model, n = str(folder), a.new_tokens
        runs["hf_fp32"] = lambda: hf_tok_per_s(model, prompts, 16, n, torch.float32)
        runs["hf_bf16"] = lambda: hf_tok_per_s(model, prompts, 16, n, torch.bfloat16)
        runs["ct2_fp32"] = lambda: ct2_tok_per_s(model, prompts, 16, n, "float32", a.threads)
        runs["ct2_int8"] = lambda: ct2_tok_per_s(model, prompts, 16, n, "int8", a.threads)
        runs["ct2_int8_b64"] = lambda: ct2_tok_per_s(model, prompts, 64, n, "int8", a.threads)
    passes: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(a.repeats):
        for name, run in runs.items():
            passes[name].append(run())
    tps = {name: max(v) for name, v in passes.items()}
    best = max(("flankit_bf16", "flankit_int8"), key=tps.get)
    if (a.drift_model / "config.json").is_file():
        drift = drift_on_trained(a.drift_model, a.n, a.new_tokens)
    else:
        drift = {"model": str(folder), "trained": False, "note": "random weights: a stress test"}
        drift.update({dt: agreement(outs["fp32"], outs[dt]) for dt in ("bf16", "int8")})
    report = {
        "model": str(folder),
        "workload": dict(
            n=a.n,
            min_len=48,
            max_len=96,
            new_tokens=a.new_tokens,
            threads=a.threads,
            peer_batch=16,
            repeats=a.repeats,
        ),
        "tok_per_s": {k: round(v, 1) for k, v in tps.items()},
        "tok_per_s_passes": {k: [round(x, 1) for x in v] for k, v in passes.items()},
        "best_flankit": best,
        "drift_vs_fp32": drift,
        "drift_vs_fp32_benchmark_model": {dt: agreement(outs["fp32"], outs[dt]) for dt in ("bf16", "int8")},
    }
    if not a.skip_peers:
        ct2_best = max(tps["ct2_int8"], tps["ct2_int8_b64"])
        report["ratio_vs_ct2_int8_best"] = round(tps[best] / ct2_best, 3)
        report["ratio_vs_hf_bf16"] = round(tps[best] / tps["hf_bf16"], 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
