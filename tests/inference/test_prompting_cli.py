"""`flankit prompts list|render|validate`."""

from __future__ import annotations

import json

from flankit.cli import main


def test_list_json_includes_user_file(tmp_path, capsys):
    extra = tmp_path / "mine.yaml"
    extra.write_text("prompts:\n  - {name: greet, template: 'Hello {who}', description: hi}\n")
    assert main(["prompts", "list", "--json", "--file", str(extra)]) == 0
    rows = {(r["name"], r["version"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows[("greet", 1)]["fields"] == ["who"]
    assert ("summarize", 2) in rows and rows[("summarize", 2)]["fields"] == ["length", "text"]


def test_render_latest_and_pinned_version(capsys):
    assert main(["prompts", "render", "summarize", "text=Cats sleep.", "length=long"]) == 0
    assert capsys.readouterr().out == "Write a long summary of the following text.\n\nCats sleep.\n"
    assert main(["prompts", "render", "summarize", "-v", "1", "text=x=y"]) == 0
    assert capsys.readouterr().out.endswith("\n\nx=y\n")  # only the first '=' splits


def test_render_errors_are_messages(capsys):
    assert main(["prompts", "render", "answer_question", "passage=p"]) == 2
    assert "answer_question@v1: missing variable(s) question" in capsys.readouterr().err
    assert main(["prompts", "render", "summarize", "oops"]) == 2
    assert "key=value" in capsys.readouterr().err


def test_validate_ok_and_broken(tmp_path, capsys):
    assert main(["prompts", "validate"]) == 0
    assert capsys.readouterr().out.startswith("ok: ")
    bad = tmp_path / "bad.yaml"
    bad.write_text("prompts:\n  - {name: broken, template: 'Hi {name'}\n")
    assert main(["prompts", "validate", "-f", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "1 broken prompt template(s)" in err and "broken@v1" in err
