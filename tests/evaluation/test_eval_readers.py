"""Readers of BBH JSON and GSM8K JSONL, on the real files and on wrong formats."""

from __future__ import annotations

import json

import pytest

from flankit.errors import DataError, UnknownNameError
from flankit.evaluation import readers


def test_bbh_real_files(external):
    items = readers.read_bbh(external / "bbh" / "date_understanding.json")
    assert len(items) == 250
    assert items[0]["options"] == ["(A)", "(B)", "(C)", "(D)", "(E)", "(F)"]
    assert items[0]["answer"] == "(B)" and items[0]["task"] == "bbh:date_understanding"
    yes_no = readers.read_bbh(external / "bbh" / "navigate.json", limit=5)
    assert len(yes_no) == 5 and yes_no[0]["options"] == ["Yes", "No"]
    assert readers.read_bbh(external / "bbh" / "word_sorting.json")[0]["options"] is None


def test_parse_bbh_options():
    text = "Q?\nOptions:\n- valid \n- invalid"
    assert readers.parse_bbh_options(text) == ["valid", "invalid"]
    assert readers.parse_bbh_options("(A) is not an options list") is None


def test_gsm8k_real_file(external):
    items = readers.read_gsm8k(external / "gsm8k" / "test.jsonl")
    assert len(items) == 1319
    assert items[0]["answer"] == "18" and items[0]["targets"].endswith("#### 18")
    assert all("," not in it["answer"] for it in items)  # '#### 14,000' -> '14000'


def test_wrong_format_names_the_expected_format(external, tmp_path):
    with pytest.raises(DataError, match="BIG-Bench Hard JSON"):
        readers.read_bbh(external / "gsm8k" / "test.jsonl")
    with pytest.raises(DataError, match="GSM8K JSONL"):
        readers.read_gsm8k(external / "bbh" / "navigate.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rows": []}))
    with pytest.raises(DataError, match='no "examples" list'):
        readers.read_bbh(bad)
    no_marker = tmp_path / "gsm8k.jsonl"
    no_marker.write_text(json.dumps({"question": "q", "answer": "42"}) + "\n")
    with pytest.raises(DataError, match="####"):
        readers.read_gsm8k(no_marker)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DataError, match="holds no examples"):
        readers.read_file(empty, "jsonl")
    with pytest.raises(DataError, match="does not exist"):
        readers.read_file(tmp_path / "nope.json")
    with pytest.raises(UnknownNameError, match="Did you mean 'gsm8k'"):
        readers.read_file(empty, "gsm8")


def test_generic_jsonl_checks_options(tmp_path):
    f = tmp_path / "mine.jsonl"
    f.write_text(json.dumps({"inputs": "x?", "targets": "yes", "options": ["no", "maybe"]}) + "\n")
    with pytest.raises(DataError, match="not among its options"):
        readers.read_file(f)
