"""Data-parallel training on one machine: N local processes in one process group (gloo on CPU).

A small model's training step is a long chain of small operations, and one CPU thread runs it
almost as fast as two (the demo's mini T5 on a 2-core machine: about 150 steps a minute at one
thread, 163 at two), so two one-thread processes, each training half of the batch, get through
more rows per second than one two-thread process. The trainer shards every global batch across
the processes and all-reduces the gradients, which gives the gradients of the one big batch
(`tests/training/test_train_resume_ddp.py`), so the process count changes the speed, and the
numbers only by rounding.

`train_in_processes` saves the config, starts `flankit train` once per rank with the
environment `accelerate` reads (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), and waits. Rank 0
shows the progress bar; the other ranks write `rank{N}.log` in the output folder, whose end is
quoted when a rank fails. If one rank fails or the launcher is interrupted, the others are
stopped; the checkpoints already written stay, so the run continues with `resume`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from flankit.errors import ConfigError, FlankitError


def free_port() -> int:
    """A TCP port on localhost that was free a moment ago (the process group's rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def per_process(config, processes: int, threads: int):
    """`config` for each of `processes` ranks: the global batch split evenly, the threads too."""
    t = config.train
    if processes < 1:
        raise ConfigError(f"processes must be at least 1, got {processes}")
    if t.batch_size % processes:
        raise ConfigError(
            f"batch size {t.batch_size} does not split over {processes} processes: "
            "choose a batch size divisible by the process count"
        )
    return replace(
        config,
        train=replace(t, batch_size=t.batch_size // processes, num_threads=max(1, threads // processes)),
    )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def train_in_processes(config, processes: int, threads: int, resume: bool = False) -> dict:
    """Train `config` (its batch is the global one) with `processes` local ranks; the summary
    `flankit.training.trainer.train` returns, without the last step's loss (read metrics.jsonl)."""
    from flankit import config as cfgmod

    rank_cfg = per_process(config, processes, threads)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "launch_config.json"
    cfgmod.save(rank_cfg, path)
    argv = [
        sys.executable,
        "-m",
        "flankit.cli",
        "train",
        "--config",
        str(path),
        *(["--resume"] if resume else []),
    ]
    group = {
        "WORLD_SIZE": str(processes),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "OMP_NUM_THREADS": str(rank_cfg.train.num_threads),
    }
    logs = [out / f"rank{rank}.log" for rank in range(processes)]
    procs: list[subprocess.Popen] = []
    try:
        for rank in range(processes):
            env = {**os.environ, **group, "RANK": str(rank), "LOCAL_RANK": str(rank)}
            if rank == 0:  # the terminal: progress bar and errors (stdout only repeats the summary)
                procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL))
                continue
            with logs[rank].open("wb") as log:
                procs.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT))
        while True:
            codes = [p.poll() for p in procs]
            failed = [r for r, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                _stop(procs)
                rank = failed[0]
                detail = (
                    "see the output above" if rank == 0 else f"{logs[rank]} ends with:\n{_tail(logs[rank])}"
                )
                raise FlankitError(
                    f"training process {rank} of {processes} exited with code {codes[rank]}; {detail}. "
                    "Checkpoints already written are kept: rerun with --resume to continue"
                )
            if all(code == 0 for code in codes):
                break
            time.sleep(0.5)
    finally:
        _stop(procs)
    final = out / ("adapter" if config.lora.enabled else "model")
    return {"steps": config.train.steps, "model_dir": str(final), "output_dir": str(out)}
