"""benchmarks/train.py's command line: the workload's length ranges and model shapes."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from benchmark_scripts import BENCHMARKS, load_benchmark

bench = load_benchmark("train")
SCRIPT = BENCHMARKS / "train.py"


def test_length_range_parses_lo_hi():
    assert bench.length_range("16,128") == (16, 128)
    assert bench.length_range("8,8") == (8, 8)


@pytest.mark.parametrize("text", ["16", "a,b", "16,8", "0,5", "1,2,3"])
def test_length_range_rejects_bad_ranges(text):
    with pytest.raises(argparse.ArgumentTypeError, match="LO"):
        bench.length_range(text)


@pytest.mark.parametrize("args", [["--input-lengths", "128,16"], ["--size", "huge"]])
def test_bad_arguments_exit_with_a_message_before_any_work(args):
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "error: argument" in done.stderr
