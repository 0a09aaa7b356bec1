"""`flankit eval` and `flankit eval compare` in process, with a fake model swapped in."""

from __future__ import annotations

import json

import pytest

from flankit.cli import evaluate as cli_eval
from flankit.cli import main


@pytest.fixture
def fake_loader(monkeypatch, constant):
    loaded = []

    def load(path, backend, dtype):
        loaded.append((path, backend, dtype))
        return constant("Yes")

    monkeypatch.setattr(cli_eval, "load_model", load)
    return loaded


def test_eval_run_and_compare(external, tmp_path, fake_loader, capsys):
    base = [
        "eval",
        "--model",
        "fake-dir",
        "--tasks",
        "bbh:navigate,bbh:web_of_lies",
        "--data",
        str(external),
        "--limit",
        "30",
        "--dtype",
        "bf16",
    ]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert main([*base, "--out", str(tmp_path / "b"), "--no-plots", "--seed", "1"]) == 0
    assert fake_loader[0] == ("fake-dir", "native", "bf16")
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    assert [c["task"] for c in results["cells"]] == ["bbh:navigate", "bbh:web_of_lies"]
    assert (tmp_path / "a" / "plots" / "robustness.png").is_file()
    assert not (tmp_path / "b" / "plots").exists()
    capsys.readouterr()
    assert main(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "bbh:navigate" in out and "+0.0000" in out  # same model, same items: no difference


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--model", "m", "--tasks", "bbh:navigat", "--data", "EXT", "--out", "OUT"],
            "Did you mean 'navigate'",
        ),
        (
            ["--model", "m", "--tasks", "gsm8k", "--data", "EXT", "--shots", "zero", "--out", "OUT"],
            "--shots takes",
        ),
        (
            ["--model", "m", "--tasks", "gsm8k", "--data", "EXT", "--templates", "x", "--out", "OUT"],
            "seen, heldout",
        ),
        (["--tasks", "gsm8k"], "needs --model DIR and --out DIR"),
        (["compare", "OUT/x", "OUT/y"], "No results.json"),
    ],
)
def test_eval_bad_input_is_a_message(external, tmp_path, fake_loader, capsys, args, message):
    args = [a.replace("EXT", str(external)).replace("OUT", str(tmp_path)) for a in args]
    assert main(["eval", *args]) != 0
    assert message in capsys.readouterr().err
    assert fake_loader == []  # bad grids fail before any model is loaded


def test_eval_catalog_grid_from_the_cli(tmp_path, fake_loader):
    out = tmp_path / "loco"
    args = ["eval", "--model", "m", "--heldout-cluster", "nli", "--templates", "heldout", "--shots", "0,2"]
    assert main([*args, "--limit", "3", "--out", str(out), "--no-plots"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {c["cluster"] for c in results["cells"]} == {"nli"}
    assert {c["shots"] for c in results["cells"]} == {0, 2} and all(c["heldout"] for c in results["cells"])
    assert results["tasks"]["nli"]["version"] >= 1
    mix = tmp_path / "mix"
    assert (
        main(
            ["eval", "--model", "m", "--mixture", "builtin", "--limit", "2", "--out", str(mix), "--no-plots"]
        )
        == 0
    )
    assert len(json.loads((mix / "results.json").read_text())["tasks"]) > 5


def test_eval_model_folder_problems_are_messages(external, tmp_path, tiny_model_dir, capsys):
    import shutil

    args = ["--tasks", "bbh:navigate", "--data", str(external), "--limit", "2", "--out", str(tmp_path / "o")]
    assert main(["eval", "--model", str(tmp_path), *args]) != 0  # no model files at all
    assert "error:" in capsys.readouterr().err
    mismatch = tmp_path / "mismatch"
    shutil.copytree(tiny_model_dir, mismatch)
    for name in ("tokenizer.json", "spiece.model", "tokenizer_config.json", "special_tokens_map.json"):
        (mismatch / name).unlink(missing_ok=True)
    assert main(["eval", "--model", str(mismatch), *args]) != 0  # weights without their tokenizer
    assert "tokenizer" in capsys.readouterr().err
