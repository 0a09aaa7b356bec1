"""Bad input gives clear FlankitErrors: typos, missing data or weights, divergence, CLI exit codes."""

from __future__ import annotations

import pytest

from flankit import config as cfgmod
from flankit.cli import main
from flankit.errors import ConfigError, DataError, ModelError, UnknownNameError
from flankit.training.checkpoint import list_checkpoints
from flankit.training.config import TrainConfig, check_compatible, load_config
from flankit.training.optim import lr_multiplier
from flankit.training.trainer import TrainingDiverged, train


def test_config_typo_names_the_key_and_suggests(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("train:\n  stpes: 10\n")
    with pytest.raises(ConfigError, match="stpes.*Did you mean 'steps'"):
        load_config(path)
    with pytest.raises(ConfigError, match="precision"):
        load_config(None, ["train.precision=fp16"])
    with pytest.raises(ConfigError, match=r"model.dropout must be in \[0, 1\), got 1.0"):
        load_config(None, ["model.dropout=1.0"])
    with pytest.raises(ConfigError, match=r"model.embedding_std must be > 0 \(or null: T5's 1.0\), got 0.0"):
        load_config(None, ["model.embedding_std=0"])
    with pytest.raises(ConfigError, match=r"train.input_dropout must be in \[0, 1\), got 1.0"):
        load_config(None, ["train.input_dropout=1.0"])
    with pytest.raises(ConfigError, match="weight_decay must be >= 0"):
        load_config(None, ["train.weight_decay=-0.1"])
    with pytest.raises(ConfigError, match="group_packed orders packed rows: set data.pack=true"):
        load_config(None, ["data.pack=false", "data.group_packed=true"])
    with pytest.raises(ConfigError, match="group_packed"):
        load_config(None, ["data.group_packed=maybe"])
    with pytest.raises(ConfigError, match="data.overlong: 'cut' is not one of truncate, drop"):
        load_config(None, ["data.overlong=cut"])


def test_missing_mixture_suggests_a_name(make_config):
    with pytest.raises(UnknownNameError, match="builtin"):
        train(make_config("data.train_file=null", "data.mixture=bultin"))


def test_model_folder_without_weights(make_config, model_dir, tmp_path):
    empty = tmp_path / "no_weights"
    empty.mkdir()
    (empty / "config.json").write_text((model_dir / "config.json").read_text())
    with pytest.raises(ModelError, match="no weights"):
        train(make_config(f"model.name={empty}", f"model.tokenizer={model_dir}"))


def test_bad_jsonl_line_is_located(make_config, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"inputs": "a", "targets": "b"}\n{"inputs": "a"}\n')
    with pytest.raises(DataError, match="bad.jsonl:2"):
        train(make_config(f"data.train_file={bad}"))


def test_overlong_drop_that_leaves_nothing_says_what_to_raise(make_config):
    with pytest.raises(DataError, match="data.overlong=drop leaves them all out: raise the lengths"):
        train(make_config("data.overlong=drop", "data.target_length=1"))


def test_nan_loss_stops_and_keeps_last_good_checkpoint(make_config, tmp_path):
    cfg = make_config("train.steps=30", "train.save_every=1", "train.lr=1e30", "train.max_grad_norm=0")
    with pytest.raises(TrainingDiverged, match="last good checkpoint is .*step-"):
        train(cfg)
    kept = list_checkpoints(cfg.output_dir)
    assert kept and int(kept[-1].name.split("-")[1]) < 30


def test_resume_without_checkpoints(make_config):
    with pytest.raises(ConfigError, match="nothing to resume"):
        train(make_config(), resume=True)


def test_resume_compatibility_reads_keys_added_since_as_their_defaults():
    saved = cfgmod.to_dict(TrainConfig())
    del saved["train"]["input_dropout"]  # a checkpoint written before word dropout existed
    check_compatible(saved, TrainConfig())
    with pytest.raises(ConfigError, match="train.input_dropout: saved 0.0, now 0.1"):
        check_compatible(saved, load_config(None, ["train.input_dropout=0.1"]))
    with pytest.raises(ConfigError, match="train.lr: saved 0.001, now 0.002"):
        check_compatible(cfgmod.to_dict(TrainConfig()), load_config(None, ["train.lr=0.002"]))


def test_schedules():
    assert [lr_multiplier("constant", s, 2, 10) for s in range(3)] == [0.5, 1.0, 1.0]
    assert lr_multiplier("linear", 9, 0, 10) == 0.0
    assert lr_multiplier("cosine", 4, 0, 10) == pytest.approx(
        0.5 * (1 + __import__("math").cos(0.5 * 3.14159265)), abs=1e-6
    )
    assert lr_multiplier("rsqrt", 99, 25, 1000) == pytest.approx(0.5)


def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("data:\n  mixtrue: builtin\n")
    assert main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "mixtrue" in err and "mixture" in err and "Traceback" not in err
    assert main(["merge", str(tmp_path), str(tmp_path / "out")]) == 2
    assert "adapter_config.json" in capsys.readouterr().err


def test_ready_configs_load():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "configs"
    names = sorted(p.name for p in root.glob("*.yaml"))
    assert {"tiny.yaml", "flan-t5-small.yaml", "flan-t5-base.yaml", "flan-t5-small-lora.yaml"} <= set(names)
    for name in names:
        cfg = load_config(root / name)
        assert cfg.train.steps > 0 and cfg.output_dir.startswith("runs/")
    assert load_config(root / "flan-t5-base-lora.yaml").lora.enabled
