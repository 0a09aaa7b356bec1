"""train.precision=auto picks bf16 only where the hardware has it natively; bf16 where it is
emulated still runs, with a warning; the choice reaches the trainer and its summary."""

from __future__ import annotations

import warnings

import pytest
import torch

from flankit.errors import ConfigError
from flankit.training import precision
from flankit.training.config import load_config
from flankit.training.trainer import Trainer

CPU = torch.device("cpu")


@pytest.mark.parametrize("native", [True, False])
def test_auto_follows_the_hardware(monkeypatch, native):
    monkeypatch.setattr(precision, "native_bf16", lambda device: native)
    assert precision.autocast_dtype("auto", CPU) == (torch.bfloat16 if native else None)
    assert precision.autocast_dtype("fp32", CPU) is None
    trainer = Trainer(load_config(None, ["train.precision=auto"]))
    assert trainer.autocast_dtype == (torch.bfloat16 if native else None)


def test_emulated_bf16_is_honoured_with_a_warning(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda device: False)
    with pytest.warns(UserWarning, match="emulated.*train.precision=auto or fp32"):
        assert precision.autocast_dtype("bf16", CPU) == torch.bfloat16
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert precision.autocast_dtype("bf16", CPU) == torch.bfloat16


def test_cpu_check_agrees_with_onednn():
    assert precision.native_bf16(CPU) is bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert precision.describe(torch.bfloat16) == "bf16" and precision.describe(None) == "fp32"
    assert precision.resolve("fp32", CPU) == "fp32"
    assert precision.resolve("auto", CPU) == ("bf16" if precision.native_bf16(CPU) else "fp32")


def test_default_is_auto_and_unknown_names_are_refused():
    assert load_config(None, []).train.precision == "auto"
    with pytest.raises(ConfigError, match="train.precision: 'half' is not one of auto, bf16, fp32"):
        load_config(None, ["train.precision=half"])
    with pytest.raises(ConfigError, match="fp16 overflows"):
        load_config(None, ["train.precision=fp16"])
