"""The offline demo end to end at a toy budget: artifacts, determinism, resume and disk errors."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import namedtuple

import pytest
import torch
from rich.console import Console

from flankit.demo import DemoConfig, run_demo
from flankit.errors import ConfigError, FlankitError
from flankit.training import precision

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
    console = Console(record=True, width=200)
    doc = run_demo(toy(out), console=console)
    (out.parent / "console.txt").write_text(console.export_text(), encoding="utf-8")
    return out, doc


def test_demo_writes_results_report_plots_and_a_usable_model(first_run):
    out, doc = first_run
    saved = json.loads((out / "results.json").read_text())
    for key in ("seen_template_accuracy", "heldout_template_accuracy", "per_task", "config", "seed"):
        assert key in saved
    assert 0.0 <= saved["seen_template_accuracy"] <= 1.0 and 0.0 <= saved["heldout_template_accuracy"] <= 1.0
    assert set(saved["per_task"]) >= {"sentiment", "topic", "nli"}
    assert saved["config"]["train"]["train"]["precision"] == "auto"
    used = precision.resolve("auto", torch.device("cpu"))
    assert saved["train"]["precision"] == used
    cut = saved["train"]["truncation"]  # what the row lengths did to the training examples
    assert cut["overlong"] == "truncate" and 0 <= cut["inputs_over"] <= cut["examples"]
    assert (
        f"instruction tuning: {saved['train']['steps']} steps in {used}"
        in (out.parent / "console.txt").read_text()
    )
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


def test_demo_regularisation_and_overlong_policy_reach_the_trainer():
    from flankit.demo import DemoConfig, train_config, warmup_config

    plain = train_config(DemoConfig())
    assert plain.model.dropout == 0.0 and plain.train.weight_decay == 0.0 == plain.train.input_dropout
    assert (
        plain.data.overlong == "truncate"
        and train_config(DemoConfig(overlong="drop")).data.overlong == "drop"
    )
    assert plain.model.embedding_std is None  # T5's own initialisation unless asked
    cfg = DemoConfig(
        dropout=0.1, weight_decay=0.05, input_dropout=0.1, pretrain_share=0.2, embedding_std=0.02
    )
    for tcfg in (train_config(cfg), warmup_config(cfg)):
        assert tcfg.model.dropout == 0.1 and tcfg.train.weight_decay == 0.05
        assert tcfg.train.input_dropout == 0.1 and tcfg.model.embedding_std == 0.02
    # instruction tuning after the warm-up starts from its trained embeddings
    assert train_config(cfg, model="warm/model").model.embedding_std is None


def test_demo_trains_micro_with_fill_grouped_batches_by_default():
    from flankit.demo import DemoConfig, train_config
    from flankit.modeling.load import tiny_config

    tcfg = train_config(DemoConfig())
    assert tcfg.model.name == "micro" and tcfg.data.group_packed and tcfg.data.pack
    assert not train_config(DemoConfig(group_packed=False)).data.group_packed
    micro, mini = tiny_config("micro", 2000), tiny_config("mini", 2000)
    assert (micro.num_layers, micro.d_ff) == (2, 256) and (mini.num_layers, mini.d_ff) == (3, 384)


@pytest.fixture(scope="module")
def warm_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("warm")
    text = root / "passages.txt"
    text.write_text("the quorblat sings beside the river at dawn\n" * 300, encoding="utf-8")
    out = root / "run"
    return out, run_demo(toy(out, pretrain_share=0.5, pretrain_text=[str(text)]))


def test_span_corruption_warm_up_then_instruction_tuning(warm_run, first_run):
    from flankit.modeling.load import load_tokenizer

    out, doc = warm_run
    warm_cfg, tune_cfg = doc["config"]["pretrain"], doc["config"]["train"]
    assert warm_cfg["train"]["objective"] == "span_corruption" and tune_cfg["train"]["objective"] == "seq2seq"
    assert warm_cfg["train"]["steps"] + tune_cfg["train"]["steps"] == toy(out).steps
    assert doc["pretrain"]["steps"] == warm_cfg["train"]["steps"] == 5
    # instruction tuning starts from the warmed-up model and keeps its tokenizer, which was
    # trained on the warm-up text too
    assert tune_cfg["model"]["name"] == str(out / "pretrain" / "model")
    pieces = lambda run: len(load_tokenizer(str(run / "model")).tokenize("quorblat sings"))  # noqa: E731
    assert pieces(out) < pieces(first_run[0])
    assert (out / "pretrain" / "metrics.jsonl").is_file()


def test_resume_after_the_warm_up_finishes_the_run_identically(warm_run, tmp_path):
    out, doc = warm_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "train")  # stopped after the warm-up, before instruction tuning saved anything
    cfg = dataclasses.replace(
        toy(copy), **{k: doc["config"]["demo"][k] for k in ("pretrain_share", "pretrain_text")}
    )
    resumed = run_demo(cfg, resume=True)
    assert resumed["per_task"] == doc["per_task"]


def test_pretrain_share_out_of_range_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="pretrain_share"):
        run_demo(toy(tmp_path / "bad", pretrain_share=1.0))
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ConfigError, match="nowhere.txt"):
        run_demo(toy(tmp_path / "bad", pretrain_share=0.2, pretrain_text=[str(tmp_path / "nowhere.txt")]))
    assert not (tmp_path / "bad").exists()  # refused before anything is written


def test_train_steps_overrides_the_minutes_budget_and_refuses_negatives(tmp_path):
    assert DemoConfig().steps == 1350  # 10 minutes at 150 steps a minute, 90% of them training
    assert DemoConfig(minutes=3.0, train_steps=2240).steps == 2240
    assert toy(tmp_path).steps == 10  # the floor
    with pytest.raises(ConfigError, match="train_steps"):
        run_demo(toy(tmp_path / "bad", train_steps=-5))
    assert not (tmp_path / "bad").exists()
