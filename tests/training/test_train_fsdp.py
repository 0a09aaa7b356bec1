"""FSDP over two CPU processes (gloo): weights really sharded, same losses as one process,
a checkpoint written under FSDP resumes exactly (with FSDP or DDP), and the final model is a
normal Hugging Face folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from flankit import config as cfgmod
from flankit.errors import ConfigError
from flankit.modeling.t5 import T5
from flankit.training.checkpoint import list_checkpoints
from flankit.training.monitor import read_metrics
from flankit.training.trainer import Trainer, train
from t5_testing import hf_model

WORKER = Path(__file__).with_name("fsdp_worker.py")


def run_fsdp(runner, tmp_path, *cfgs) -> list[list[dict]]:
    """Train the first config on two gloo processes through fsdp_worker.py, then resume with
    each next one; returns each run's reports of both ranks."""
    paths = [tmp_path / f"config{n}.json" for n in range(len(cfgs))]
    for cfg, path in zip(cfgs, paths):
        cfgmod.save(cfg, path)
    reports = [tmp_path / f"report{r}.jsonl" for r in range(2)]
    runner(lambda rank: [sys.executable, str(WORKER), str(reports[rank]), *map(str, paths)])
    per_rank = [[json.loads(line) for line in r.read_text().splitlines()] for r in reports]
    return [list(run) for run in zip(*per_rank)]


def losses(cfg) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in read_metrics(cfg.output_dir + "/metrics.jsonl") if "loss" in m}


def test_fsdp_shards_matches_one_process_and_resumes(make_config, train_file, tmp_path, run_two_processes):
    # validation rows are split over the processes; 28 examples pack into 17 rows, so the last
    # round (4 rows a round) leaves process 1 without rows
    val = (f"data.validation_file={train_file}", "data.validation_examples=28")
    common = ("train.optimizer=adafactor", "train.eval_every=2", "train.save_every=2", *val)
    # an FSDP run that stops after its step-2 checkpoint, resumed with FSDP to step 4, then
    # resumed without it (DDP) to step 6: the checkpoints do not depend on the sharding
    cfgs = [
        make_config(*common, "train.batch_size=2", f"train.steps={steps}", f"train.fsdp={on}", out="fsdp")
        for steps, on in ((2, "true"), (4, "true"), (6, "false"))
    ]
    runs = run_fsdp(run_two_processes, tmp_path, *cfgs)
    fsdp_cfg = cfgs[-1]
    assert [c.name for c in list_checkpoints(fsdp_cfg.output_dir)] == ["step-0000004", "step-0000006"]
    assert [[r["summary"]["resumed_from"] for r in run] for run in runs] == [[0, 0], [2, 2], [4, 4]]

    # (a) sharded: every process holds DTensor shards that together make each full parameter
    for reports in runs[:2]:
        assert all(r["fsdp"] and r["kinds"] == ["DTensor"] for r in reports)
        sizes = [r["sizes"] for r in reports]
        assert all(sizes[0][k][0] + sizes[1][k][0] == sizes[0][k][1] for k in sizes[0])
        held = [sum(v[0] for v in s.values()) / sum(v[1] for v in s.values()) for s in sizes]
        assert all(0.4 < h < 0.6 for h in held), held
    assert not any(r["fsdp"] for r in runs[2]) and runs[2][0]["kinds"] == ["Parameter"]

    # (b, c) the same losses at every step as one uninterrupted process with the doubled batch
    single_cfg = make_config(*common, "train.batch_size=4", "train.steps=6", out="single")
    train(single_cfg)
    got, want = losses(fsdp_cfg), losses(single_cfg)
    assert sorted(got) == [1, 2, 3, 4, 5, 6]
    assert all(got[s] == pytest.approx(want[s], rel=1e-5) for s in got), (got, want)
    assert got[6] < got[1]  # it did train
    val_losses = [
        {m["step"]: m["val_loss"] for m in read_metrics(c.output_dir + "/metrics.jsonl") if "val_loss" in m}
        for c in (fsdp_cfg, single_cfg)
    ]
    assert sorted(val_losses[0]) == [2, 4, 6]
    assert all(val_losses[0][s] == pytest.approx(val_losses[1][s], rel=1e-5) for s in (2, 4, 6))

    # the model of the step-4 checkpoint, gathered from the FSDP shards, is a plain Hugging Face
    # folder equal to the one-process result
    one, two = (
        T5.from_pretrained(f"{c.output_dir}/checkpoints/step-0000004/model") for c in (single_cfg, fsdp_cfg)
    )
    diff = max((x - y).abs().max().item() for x, y in zip(one.parameters(), two.parameters()))
    assert diff < 1e-5
    reference = hf_model(f"{fsdp_cfg.output_dir}/checkpoints/step-0000004/model")
    assert torch.equal(reference.shared.weight, two.shared.weight)


def test_fsdp_with_lora_is_refused(make_config, monkeypatch):
    with pytest.raises(ConfigError, match="LoRA"):
        Trainer(make_config("train.fsdp=true", "lora.enabled=true"))
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")  # accelerate's launcher asks for it too
    with pytest.raises(ConfigError, match="--use_fsdp"):
        Trainer(make_config("lora.enabled=true"))
