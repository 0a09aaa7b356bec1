"""Typed configs (unknown keys with suggestions, overrides, coercion) and the registry."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from flankit import config
from flankit.errors import ConfigError, UnknownNameError
from flankit.registry import Registry


@dataclass
class Optim:
    lr: float = config.field(1e-3, help="learning rate")
    name: str = config.field("adafactor", help="optimizer")


@dataclass
class Run:
    steps: int = config.field(10, help="training steps")
    bf16: bool = config.field(False, help="bf16 autocast")
    tasks: list[str] = config.field(default_factory=list, help="task names")
    optim: Optim = config.field(default_factory=Optim, help="optimizer section")


def test_yaml_and_overrides(tmp_path):
    f = tmp_path / "run.yaml"
    f.write_text("steps: 5\noptim:\n  lr: 0.01\n")
    cfg = config.load(Run, f, ["optim.name=adamw", "bf16=true", "tasks=a,b"])
    assert (cfg.steps, cfg.bf16, cfg.tasks, cfg.optim.lr, cfg.optim.name) == (
        5,
        True,
        ["a", "b"],
        0.01,
        "adamw",
    )


def test_unknown_key_names_the_key_and_suggests(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'stpes'.*Did you mean 'steps'"):
        config.from_dict(Run, {"stpes": 3})
    with pytest.raises(ConfigError, match=r"config.optim: unknown key 'lrr'.*'lr'"):
        config.load(Run, None, ["optim.lrr=1"])


def test_wrong_types_are_errors():
    with pytest.raises(ConfigError, match="cannot use 'many' as int"):
        config.from_dict(Run, {"steps": "many"})
    with pytest.raises(ConfigError, match="as int"):
        config.from_dict(Run, {"steps": 1.5})
    with pytest.raises(ConfigError, match="key=value"):
        config.apply_overrides({}, ["steps"])


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(Run, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        config.load(Run, bad)


def test_save_round_trip(tmp_path):
    cfg = config.load(Run, None, ["steps=7"])
    config.save(cfg, tmp_path / "c.json")
    assert config.load(Run, tmp_path / "c.json") == cfg


def test_registry_unknown_name_suggests():
    reg: Registry[int] = Registry("metric")
    reg.add("accuracy", 1)
    assert reg.get("accuracy") == 1 and "accuracy" in reg and reg.names() == ["accuracy"]
    with pytest.raises(UnknownNameError, match="Did you mean 'accuracy'"):
        reg.get("acuracy")
    with pytest.raises(ValueError):
        reg.add("accuracy", 2)
