"""Exact resume after SIGKILL, and a two-process (gloo) run that matches one process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import torch

from flankit import config as cfgmod
from flankit.errors import ConfigError
from flankit.modeling.t5 import T5
from flankit.training.checkpoint import list_checkpoints
from flankit.training.monitor import read_metrics
from flankit.training.trainer import train

CLI = "import sys; from flankit.cli import run; sys.argv[0] = 'flankit'; run()"


def launch(cfg, tmp_path, name: str) -> subprocess.Popen:
    path = tmp_path / f"{name}.json"
    cfgmod.save(cfg, path)
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "train", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def losses(cfg) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in read_metrics(cfg.output_dir + "/metrics.jsonl") if "loss" in m}


def test_sigkill_then_resume_matches_uninterrupted_run(make_config, tmp_path):
    common = ("train.steps=200", "train.save_every=5", "train.keep_last=2", "model.dropout=0.1")
    killed_cfg = make_config(*common, out="killed")
    proc = launch(killed_cfg, tmp_path, "killed")
    deadline = time.time() + 60
    while time.time() < deadline and len(list_checkpoints(killed_cfg.output_dir)) < 2:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    resumed_from = int(list_checkpoints(killed_cfg.output_dir)[-1].name.split("-")[1])
    assert 0 < resumed_from < 200
    with pytest.raises(ConfigError, match="--resume"):
        train(killed_cfg)  # refusing to start over a run silently
    with pytest.raises(ConfigError, match="train.lr"):
        train(make_config(*common, "train.lr=0.01", out="killed"), resume=True)
    summary = train(killed_cfg, resume=True)
    assert summary["resumed_from"] == resumed_from
    reference = train(make_config(*common, out="reference"))
    got, want = losses(killed_cfg), losses(make_config(*common, out="reference"))
    assert sorted(got) == list(range(1, 201))
    assert all(got[s] == pytest.approx(want[s], rel=1e-6) for s in range(1, 201))
    assert summary["final_loss"] == pytest.approx(reference["final_loss"], rel=1e-6)


def test_two_processes_shard_data_and_match_one_process(make_config, tmp_path, run_two_processes):
    ddp_cfg = make_config("train.batch_size=2", "train.steps=4", "train.record_data=true", out="ddp")
    path = tmp_path / "ddp.json"
    cfgmod.save(ddp_cfg, path)
    run_two_processes(lambda rank: [sys.executable, "-c", CLI, "train", "--config", str(path)])
    shards = [read_metrics(f"{ddp_cfg.output_dir}/data_rank{r}.jsonl") for r in range(2)]
    single_cfg = make_config("train.batch_size=4", "train.steps=4", "train.record_data=true", out="single")
    train(single_cfg)
    single = read_metrics(f"{single_cfg.output_dir}/data_rank0.jsonl")
    for step in range(4):
        a, b = shards[0][step]["rows"], shards[1][step]["rows"]
        assert a and b and not set(map(tuple, a)) & set(map(tuple, b))  # different shards
        assert sorted(a + b) == sorted(single[step]["rows"])  # together: the one-process batch
    one, two = (
        T5.from_pretrained(f"{single_cfg.output_dir}/model"),
        T5.from_pretrained(f"{ddp_cfg.output_dir}/model"),
    )
    diff = max((x - y).abs().max().item() for x, y in zip(one.parameters(), two.parameters()))
    assert diff < 1e-5
    assert torch.isfinite(torch.tensor(losses(ddp_cfg)[4]))
    assert losses(ddp_cfg)[4] == pytest.approx(losses(single_cfg)[4], rel=1e-5)
