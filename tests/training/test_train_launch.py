"""Local multi-process training: the per-rank config, failures of one rank, a real two-rank run."""

from __future__ import annotations

import json
import stat
import sys
import time
from pathlib import Path

import pytest

from flankit.errors import ConfigError, FlankitError
from flankit.training.launch import per_process, train_in_processes


def test_per_process_splits_the_global_batch_and_the_threads(make_config):
    cfg = make_config("train.batch_size=8")
    rank = per_process(cfg, 2, threads=2)
    assert rank.train.batch_size == 4 and rank.train.num_threads == 1
    assert per_process(cfg, 1, threads=2).train.batch_size == 8
    assert per_process(cfg, 4, threads=2).train.num_threads == 1  # never zero threads


@pytest.mark.parametrize("processes, match", [(3, "divisible by the process count"), (0, "at least 1")])
def test_a_process_count_the_batch_cannot_take_is_a_config_error(make_config, processes, match):
    with pytest.raises(ConfigError, match=match):
        per_process(make_config("train.batch_size=8"), processes, threads=2)


def test_a_failing_rank_stops_the_others_and_quotes_its_log(make_config, tmp_path, monkeypatch):
    fake = tmp_path / "fake_python"
    fake.write_text(
        '#!/bin/sh\nif [ "$RANK" = "1" ]; then echo "rank one: shard file unreadable"; exit 3; fi\nsleep 60\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(sys, "executable", str(fake))
    cfg = make_config("train.batch_size=4", out="failing")
    start = time.perf_counter()
    with pytest.raises(FlankitError, match="process 1 of 2 exited with code 3") as info:
        train_in_processes(cfg, 2, threads=2)
    assert time.perf_counter() - start < 45  # rank 0 (sleeping a minute) was stopped, not awaited
    assert "shard file unreadable" in str(info.value) and "--resume" in str(info.value)
    saved = json.loads((Path(cfg.output_dir) / "launch_config.json").read_text())
    assert saved["train"]["batch_size"] == 2  # what each rank trains on


def test_two_ranks_train_the_one_process_batches(make_config):
    from flankit.training.monitor import read_metrics
    from flankit.training.trainer import train

    steps = ("train.batch_size=4", "train.steps=4")
    two = train_in_processes(make_config(*steps, out="two"), 2, threads=2)
    one = train(make_config(*steps, out="one"))
    assert two["steps"] == 4 and two["model_dir"].endswith("model")
    loss = lambda d: [r["loss"] for r in read_metrics(f"{d}/metrics.jsonl") if "loss" in r]  # noqa: E731
    assert loss(two["output_dir"]) == pytest.approx(loss(one["output_dir"]), rel=1e-4)
