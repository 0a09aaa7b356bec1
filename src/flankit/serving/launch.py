"""Run `flankit serve` as a child process on a free loopback port (used by tests and benchmarks).

    port = free_port()
    proc = spawn_server("out/model", port, "--no-batching")
    wait_healthy(proc, f"http://127.0.0.1:{port}")
    ...
    stop_server(proc)

A child process keeps the server's engine thread off the caller's GIL, so a load generator in
the caller measures the server, not itself.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_server(model: str | Path, port: int, *options: str) -> subprocess.Popen:
    """Start `flankit serve --model MODEL --port PORT [options]` on loopback; output is captured."""
    cmd = [sys.executable, "-m", "flankit.cli", "serve", "--model", str(model), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--log-level", "warning", *options]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_healthy(proc: subprocess.Popen, url: str, timeout: float = 120.0) -> dict:
    """Poll GET /health until it answers; raise with the server's stderr if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            return httpx.get(f"{url}/health", timeout=1).json()
        except httpx.TransportError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"the server did not answer /health within {timeout:g}s")


def stop_server(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    """SIGTERM (graceful shutdown), then kill if it does not exit in time; returns the exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()
