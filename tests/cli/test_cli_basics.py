"""The CLI: help lists commands, FlankitError becomes a message and a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys

from flankit.cli import main


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "flankit.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_subcommands():
    out = run("--help")
    assert out.returncode == 0
    assert "model" in out.stdout


def test_model_info_json(capsys):
    assert main(["model", "info", "small", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert 70e6 < info["parameters"] < 80e6  # flan-t5-small: 77M
    assert info["weight_mb"]["int8"] < info["weight_mb"]["bf16"] < info["weight_mb"]["fp32"]


def test_error_is_a_message_not_a_traceback(tmp_path):
    out = run("model", "info", str(tmp_path / "missing"))
    assert out.returncode != 0
    assert "error:" in out.stderr and "Traceback" not in out.stderr


def test_unknown_option_is_a_usage_message_not_a_traceback():
    out = run("demo", "--mixture", "x")
    assert out.returncode == 2
    assert "No such option: --mixture" in out.stderr and "Traceback" not in out.stderr
