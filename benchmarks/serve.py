"""Serving throughput: dynamic batching on vs off, N concurrent clients on loopback.

Usage: `python benchmarks/serve.py [--model DIR] [--clients 32] [--duration 8] [--max-tokens 16]`

Starts `flankit serve` in a subprocess (so client and server do not share a GIL) twice on a
free loopback port, once with dynamic batching and once with `--no-batching`, and drives each
with `--clients` closed-loop asyncio clients (each sends its next request when the previous
answer arrives) for `--duration` seconds. Every request generates exactly `--max-tokens`
tokens greedily (`min_tokens` = `max_tokens`), so both runs do the same work per request.
Without --model, a random `build_tiny("tiny")` T5 plus a small trained tokenizer is written
under .bench/. A request that gets no answer within the client timeout is counted as lost.
Prints one JSON object (batched_rps, unbatched_rps, speedup, p50_ms, p95_ms, errors,
lost_requests, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import time
from pathlib import Path

import httpx

from flankit.serving.launch import free_port, spawn_server, stop_server, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
WORDS = "the a cat dog bird sat ran flew on over under mat hill tree happy sad movie film book great awful plot actor story because while and not yes no question answer is was one two three four five".split()
CLIENT_TIMEOUT_S = 60.0
MAX_DURATION_S = 60.0
MAX_CLIENTS = 256


def default_model() -> Path:
    """A random `tiny` T5 (d_model 256, 4+4 layers) with a tokenizer trained on filler text."""
    from flankit.modeling.load import build_tiny, train_tokenizer

    folder = ROOT / ".bench" / "serve-tiny"
    if not (folder / "config.json").is_file():
        rnd = random.Random(0)
        texts = [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(4, 20))) for _ in range(3000)]
        tok = train_tokenizer(texts, folder, vocab_size=400)
        build_tiny("tiny", vocab_size=len(tok)).eval().save_pretrained(folder)
    return folder


async def load(url: str, clients: int, duration: float, max_tokens: int, model_name: str) -> dict:
    """Closed-loop clients; returns latencies of successes, error and lost counts, throughput."""
    latencies: list[float] = []
    errors = lost = 0
    rnd = random.Random(1)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=CLIENT_TIMEOUT_S, limits=limits) as client:

        async def worker(end: float) -> None:
            nonlocal errors, lost
            while time.monotonic() < end:
                prompt = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(8, 24)))
                body = {
                    "model": model_name,
                    "prompt": prompt,
                    "max_tokens": max_tokens,
                    "min_tokens": max_tokens,
                }
                start = time.perf_counter()
                try:
                    r = await client.post("/v1/completions", json=body)
                except httpx.HTTPError:
                    lost += 1  # no answer at all (timeout or dropped connection)
                    continue
                if r.status_code == 200:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors += 1

        await asyncio.gather(*(worker(time.monotonic() + 1.0) for _ in range(clients)))  # warm-up
        latencies.clear()
        start = time.monotonic()
        await asyncio.gather(*(worker(start + duration) for _ in range(clients)))
        elapsed = time.monotonic() - start
        metrics = (await client.get("/metrics")).text
    lat = sorted(latencies)

    def pct(q: float) -> float:
        return round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else float("nan")

    def metric(name: str) -> float:
        m = re.search(rf"^{name} ([0-9.e+]+)$", metrics, re.MULTILINE)
        return float(m.group(1)) if m else 0.0

    batches = metric("flankit_batch_requests_count")
    return {
        "rps": round(len(lat) / elapsed, 2),
        "ok": len(lat),
        "errors": errors,
        "lost": lost,
        "p50_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "mean_batch": round(metric("flankit_batch_requests_sum") / batches, 2) if batches else 0.0,
    }


def run_mode(model: Path, batching: bool, args) -> dict:
    port = free_port()
    options = ["--max-queue", "1024", "--threads", str(args.threads)] + (
        [] if batching else ["--no-batching"]
    )
    proc = spawn_server(model, port, *options)
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}")
        return asyncio.run(
            load(f"http://127.0.0.1:{port}", args.clients, args.duration, args.max_tokens, model.name)
        )
    finally:
        stop_server(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model", type=Path, default=None, help="model folder (default: random tiny under .bench/)"
    )
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--duration", type=float, default=8.0, help="seconds of load per mode (max 60)")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0, help="torch threads in the server (0 = default)")
    args = ap.parse_args()
    args.clients = max(1, min(args.clients, MAX_CLIENTS))
    args.duration = max(1.0, min(args.duration, MAX_DURATION_S))
    model = args.model or default_model()
    batched = run_mode(model, True, args)
    unbatched = run_mode(model, False, args)
    print(
        json.dumps(
            {
                "clients": args.clients,
                "duration_s": args.duration,
                "max_tokens": args.max_tokens,
                "model": str(model),
                "batched_rps": batched["rps"],
                "unbatched_rps": unbatched["rps"],
                "speedup": round(batched["rps"] / unbatched["rps"], 2) if unbatched["rps"] else None,
                "p50_ms": batched["p50_ms"],
                "p95_ms": batched["p95_ms"],
                "unbatched_p50_ms": unbatched["p50_ms"],
                "unbatched_p95_ms": unbatched["p95_ms"],
                "mean_batch_requests": batched["mean_batch"],
                "errors": batched["errors"] + unbatched["errors"],
                "lost_requests": batched["lost"] + unbatched["lost"],
                "requests": batched["ok"] + unbatched["ok"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
