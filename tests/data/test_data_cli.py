"""CLI: `flankit tasks list`, `flankit mixture build`, `flankit mixture stats` (in-process)."""

from __future__ import annotations

import json

from flankit.cli import main
from flankit.data.templates import templates_for


def test_tasks_list_shows_builtin_and_online(capsys):
    assert main(["tasks", "list"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("sentiment "))
    n_templates = len(templates_for("sentiment"))
    assert "sentiment" in line and f" {n_templates} " in line and "builtin:sentiment" in line
    assert "hf:nyu-mll/glue/sst2" in out
    assert main(["tasks", "list", "--offline"]) == 0
    assert "hf:" not in capsys.readouterr().out


def test_build_is_byte_identical_and_stats_report(tmp_path, capsys):
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    for path, seed in ((a, 3), (b, 3), (c, 4)):
        assert (
            main(
                [
                    "mixture",
                    "build",
                    "--mixture",
                    "builtin",
                    "--num-examples",
                    "400",
                    "--seed",
                    str(seed),
                    "--out",
                    str(path),
                ]
            )
            == 0
        )
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    rec = json.loads(a.read_text().splitlines()[0])
    assert set(rec) == {"inputs", "targets", "task", "cluster", "template", "format"}
    png = tmp_path / "len.png"
    capsys.readouterr()
    assert main(["mixture", "stats", str(a), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "examples: 400" in out and "sentiment" in out and "<=64" in out
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_errors_are_messages_not_tracebacks(tmp_path, capsys):
    assert main(["mixture", "build", "--mixture", "bultin", "--out", str(tmp_path / "x.jsonl")]) != 0
    err = capsys.readouterr().err
    assert "Unknown mixture 'bultin'" in err and "Traceback" not in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"inputs": "a"}\n')
    assert main(["mixture", "stats", str(bad)]) != 0
    assert "bad.jsonl:1: record lacks" in capsys.readouterr().err


def test_skip_bad_lines_flag(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text(
        '{"text": "lovely", "label": "positive"}\nnot json\n{"text": "awful", "label": "negative"}\n'
    )
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        "tasks:\n  - {name: tiny_local, cluster: sentiment, version: 1, kind: classification, family: classification,\n"
        "     inputs: [text], target: label, options: [negative, positive], templates: sentiment, splits: [train],\n"
        f"     sources: [{{type: local, files: {{train: {data.name}}}}}]}}\n"
    )
    mix = tmp_path / "mix.yaml"
    mix.write_text("task_files: [tasks.yaml]\ntasks: [tiny_local]\nformats: {zs_noopt: 1}\n")
    out = tmp_path / "o.jsonl"
    assert main(["mixture", "build", "-m", str(mix), "-n", "20", "--out", str(out)]) != 0
    assert "d.jsonl:2: malformed line" in capsys.readouterr().err
    assert main(["mixture", "build", "-m", str(mix), "-n", "20", "--out", str(out), "--skip-bad-lines"]) == 0
    assert len(out.read_text().splitlines()) == 20
