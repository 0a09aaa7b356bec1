"""The offline demo end to end at a toy budget: artifacts, determinism, resume and disk errors."""

from __future__ import annotations

import json
import shutil
from collections import namedtuple

import pytest

from flankit.demo import DemoConfig, run_demo
from flankit.errors import ConfigError, FlankitError

TOY = dict(
    minutes=0.1,
    steps_per_minute=100.0,
    batch_size=4,
    input_length=128,
    target_length=32,
    eval_limit=2,
    shots=[0, 1],
    vocab_size=400,
    threads=1,
)


def toy(out, **kw) -> DemoConfig:
    return DemoConfig(out=str(out), **{**TOY, **kw})


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    return out, run_demo(toy(out))


def test_demo_writes_results_report_plots_and_a_usable_model(first_run):
    out, doc = first_run
    saved = json.loads((out / "results.json").read_text())
    for key in ("seen_template_accuracy", "heldout_template_accuracy", "per_task", "config", "seed"):
        assert key in saved
    assert 0.0 <= saved["seen_template_accuracy"] <= 1.0 and 0.0 <= saved["heldout_template_accuracy"] <= 1.0
    assert set(saved["per_task"]) >= {"sentiment", "topic", "nli"}
    assert {ex["kind"].split()[0] for ex in saved["examples"]} >= {
        "zero-shot",
        "few-shot",
        "constrained",
        "step-by-step",
    }
    report = (out / "report.md").read_text()
    assert "held-out templates" in report and "flankit serve --model" in report
    pngs = [out / "loss.png", out / "seen_vs_heldout.png", *(out / "eval" / "plots").glob("*.png")]
    assert len(pngs) >= 4
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert png.name in report
    from flankit.inference.engine import Engine

    engine = Engine.from_pretrained(str(out / "model"))
    assert isinstance(
        str(engine.generate(["Is this review positive or negative? Great film."], max_new_tokens=4)[0]), str
    )


def test_same_seed_same_numbers(first_run, tmp_path):
    _, doc = first_run
    again = run_demo(toy(tmp_path / "again"))
    assert again["per_task"] == doc["per_task"]
    assert again["train"]["final_loss"] == doc["train"]["final_loss"]


def test_rerun_needs_resume_and_resume_finishes(first_run, tmp_path):
    out, doc = first_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with pytest.raises(ConfigError, match="--resume"):
        run_demo(toy(copy))
    resumed = run_demo(toy(copy), resume=True)
    assert resumed["seen_template_accuracy"] == doc["seen_template_accuracy"]


def test_full_disk_is_a_clear_error(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 10**6, 10**6))
    with pytest.raises(FlankitError, match="MiB free"):
        run_demo(toy(tmp_path / "full"))
    assert not (tmp_path / "full" / "train").exists()


def test_demo_trains_with_flan_per_example_loss():
    from flankit.demo import DemoConfig, train_config

    assert train_config(DemoConfig()).train.loss_normalization == "sequence"
    assert train_config(DemoConfig(loss_normalization="token")).train.loss_normalization == "token"
