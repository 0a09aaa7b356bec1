"""`flankit serve`: clear errors for bad options, and a real subprocess server that shuts down cleanly."""

from __future__ import annotations

import signal

import openai

from flankit.cli import main
from flankit.serving.launch import free_port, spawn_server, stop_server, wait_healthy


def test_missing_model_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["serve", "--model", str(tmp_path / "nope")]) != 0
    assert "does not exist" in capsys.readouterr().err


def test_bad_backend_is_a_clear_error(tmp_path, capsys):
    assert main(["serve", "--model", str(tmp_path), "--backend", "vllm"]) != 0
    assert "Unknown backend 'vllm'" in capsys.readouterr().err


def test_cli_serves_and_stops_on_sigterm(tmp_path):
    from t5_testing import tiny_model_dir

    tiny_model_dir(tmp_path / "m")
    port = free_port()
    options = ("--api-key", "k", "--max-queue", "4", "--no-batching", "--threads", "1")
    proc = spawn_server(tmp_path / "m", port, *options)
    try:
        health = wait_healthy(proc, f"http://127.0.0.1:{port}", timeout=60)
        assert health["model"] == "m" and health["max_queue"] == 4 and health["batching"] is False
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0)
        reply = client.completions.create(model="m", prompt="the cat sat", max_tokens=3)
        assert reply.choices[0].finish_reason in ("stop", "length")
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status says SIGTERM
        assert stop_server(proc) in (0, -signal.SIGTERM)
        assert "serving 'm' on http://127.0.0.1" in proc.stdout.read()
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
