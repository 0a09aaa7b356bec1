"""CLI: single prompts, file mode with malformed lines, interrupted-run resume, export."""

from __future__ import annotations

import json

import pytest

from flankit.cli import infer as infer_cli
from flankit.cli import main


def test_generate_and_classify_single_prompt(model_dir, capsys):
    assert main(["generate", "--model", str(model_dir), "--max-new-tokens", "3", "the cat"]) == 0
    assert main(["classify", "--model", str(model_dir), "--options", "yes|no", "the cat"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1])["choice"] in ("yes", "no")


def test_bad_cli_input_is_a_message(model_dir, capsys):
    assert main(["classify", "--model", str(model_dir), "--options", "yes|yes", "x"]) != 0
    assert main(["generate", "--model", str(model_dir), "--backend", "fast", "x"]) != 0
    assert main(["generate", "--model", str(model_dir)]) != 0
    err = capsys.readouterr().err
    assert "duplicates" in err and "Unknown backend" in err and "PROMPT or --input" in err


def test_file_mode_reports_bad_lines_and_resumes(model_dir, tmp_path, monkeypatch, capsys):
    src = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": i, "prompt": f"the cat {i}"}) for i in range(7)]
    lines.insert(2, "{not json")
    lines.insert(5, json.dumps({"prompt": ""}))
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    args = [
        "generate",
        "--model",
        str(model_dir),
        "--max-new-tokens",
        "2",
        "--input",
        str(src),
        "--output",
        str(out),
    ]
    monkeypatch.setattr(infer_cli, "CHUNK", 3)
    real = infer_cli.run_file

    def interrupted(*a):  # the second chunk fails as a crash would
        calls = {"n": 0}
        work = a[3]

        def flaky(prompts):
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("simulated crash")
            return work(prompts)

        return real(a[0], a[1], a[2], flaky, a[4])

    monkeypatch.setattr(infer_cli, "run_file", interrupted)
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(args)
    partial = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(partial) == 3
    with out.open("a") as fh:
        fh.write('{"line": 99, "te')  # a torn last line from the crash
    monkeypatch.setattr(infer_cli, "run_file", real)
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "in.jsonl:3" in err and "in.jsonl:6" in err
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == list(range(7))  # no losses, no duplicates
    assert rows[:3] == partial
    assert main(args) == 0  # a third run has nothing left to do
    assert len(out.read_text().splitlines()) == 7


def test_classify_csv_file(model_dir, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,prompt\na,the cat\nb,\nc,a dog\n")
    out = tmp_path / "out.jsonl"
    assert (
        main(
            [
                "classify",
                "--model",
                str(model_dir),
                "--options",
                "yes|no",
                "--input",
                str(src),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "c"] and all(r["choice"] in ("yes", "no") for r in rows)


def test_export_ctranslate2_matches_native(model_dir, tmp_path):
    pytest.importorskip("ctranslate2")
    from flankit import Engine

    out = tmp_path / "ct2"
    assert main(["export", "ctranslate2", "--model", str(model_dir), "--out", str(out)]) == 0
    ct2 = Engine.from_pretrained(out, backend="ctranslate2")
    native = Engine.from_pretrained(model_dir)
    prompts = ["the cat sat", "a dog ran over the hill"]
    assert [g.token_ids for g in ct2.generate(prompts, max_new_tokens=6)] == [
        g.token_ids for g in native.generate(prompts, max_new_tokens=6)
    ]
    for a, b in zip(
        ct2.classify(prompts, ["yes", "no maybe"], normalize="sum"),
        native.classify(prompts, ["yes", "no maybe"], normalize="sum"),
        strict=True,
    ):
        assert a.scores == pytest.approx(b.scores, abs=1e-3)
    assert main(["export", "ctranslate2", "--model", str(model_dir), "--out", str(out)]) != 0  # exists
