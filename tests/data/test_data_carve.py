"""Carving train/test out of one local file: disjoint, complete, stable, and clear on bad specs."""

from __future__ import annotations

import pytest

from flankit.data import sources
from flankit.errors import ConfigError


def _rows(n: int) -> str:
    return "".join(f"{i % 2} review number {i} is {'good' if i % 2 else 'bad'}\n" for i in range(n))


def _carved(tmp_path, make_task, text: str, carve: dict, **task_kw):
    path = tmp_path / "all.txt"
    path.write_text(text, encoding="utf-8")
    spec = {
        "type": "local",
        "format": "label_text",
        "files": {"test": str(path)},
        "carve": carve,
        "label_map": {"0": "negative", "1": "positive"},
    }
    return make_task(spec, **task_kw), spec


def test_carved_parts_are_disjoint_complete_and_sized(tmp_path, make_task):
    task, spec = _carved(tmp_path, make_task, _rows(2000), {"test": 0.2, "validation": 0.1})
    parts = {
        s: [ex["text"] for ex in sources.read_local(task, spec, s)] for s in ("train", "validation", "test")
    }
    sets = {s: set(v) for s, v in parts.items()}
    assert not sets["train"] & sets["test"] and not sets["train"] & sets["validation"]
    assert not sets["validation"] & sets["test"]
    assert sum(len(v) for v in parts.values()) == 2000
    assert 0.16 < len(parts["test"]) / 2000 < 0.24 and 0.07 < len(parts["validation"]) / 2000 < 0.13


def test_carving_is_stable_under_reordering_and_new_rows(tmp_path, make_task):
    """A row's split depends on its content only: shuffling or appending rows never moves it."""
    task, spec = _carved(tmp_path, make_task, _rows(500), {"test": 0.25})
    before = {ex["text"] for ex in sources.read_local(task, spec, "test")}
    lines = _rows(800).splitlines(keepends=True)
    (tmp_path / "all.txt").write_text("".join(reversed(lines)), encoding="utf-8")
    after = {ex["text"] for ex in sources.read_local(task, spec, "test")}
    assert before and before <= after
    assert not {t for t in after if int(t.split()[2]) < 500} ^ before


def test_duplicate_rows_never_straddle_the_split(tmp_path, make_task):
    task, spec = _carved(tmp_path, make_task, _rows(300) * 2, {"test": 0.3})
    train = [ex["text"] for ex in sources.read_local(task, spec, "train")]
    test = [ex["text"] for ex in sources.read_local(task, spec, "test")]
    assert len(train) + len(test) == 600 and not set(train) & set(test)


@pytest.mark.parametrize(
    ("carve", "problem"),
    [
        ({"test": 1.2}, "summing below 1"),
        ({"train": 0.5}, "summing below 1"),
        ({"test": "a lot"}, "summing below 1"),
        ({"from": "dev", "test": 0.2}, "`from:`"),
    ],
)
def test_bad_carve_specs_are_clear_errors(tmp_path, make_task, carve, problem):
    task, spec = _carved(tmp_path, make_task, _rows(10), carve)
    with pytest.raises(ConfigError, match=problem):
        sources.read_local(task, spec, "train")


def test_carving_a_split_that_has_its_own_file_is_refused(tmp_path, make_task):
    task, spec = _carved(tmp_path, make_task, _rows(10), {"from": "test", "test": 0.2})
    spec["files"]["train"] = spec["files"]["test"]
    with pytest.raises(ConfigError, match="own file"):
        sources.read_local(task, spec, "train")


def test_agnews_is_carved_80_20(local_tasks):
    from flankit.data.tasks import get_task

    task = get_task("agnews_file")
    train = {ex["text"] for ex in task.examples("train")}
    test = {ex["text"] for ex in task.examples("test")}
    assert not train & test and 0.18 < len(test) / (len(train) + len(test)) < 0.22
