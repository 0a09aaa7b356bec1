"""Builtin generators: coverage, size, disjoint splits, determinism, learnable short texts."""

from __future__ import annotations

import pytest

from flankit.data.builtin import content_key, split_of
from flankit.data.tasks import builtin_tasks, get_task, list_tasks
from flankit.errors import ConfigError, UnknownNameError

BUILTIN = [t.name for t in builtin_tasks()]
REQUIRED_CLUSTERS = {
    "nli",
    "sentiment",
    "topic",
    "reading_comprehension",
    "summarization",
    "translation",
    "arithmetic",
    "symbolic",
    "logic",
    "date",
    "coreference",
    "commonsense",
    "dialogue",
}


def test_catalog_covers_the_required_clusters():
    tasks = builtin_tasks()
    assert len(tasks) >= 14
    assert {t.cluster for t in tasks} >= REQUIRED_CLUSTERS
    assert len({t.cluster for t in tasks}) >= 8


def test_online_catalog_declares_hub_tasks():
    online = [t for t in list_tasks() if t.source_type == "hf"]
    assert len(online) >= 20
    assert {"sst2", "mnli", "snli", "rte", "boolq", "copa", "squad", "xsum", "gsm8k", "ag_news", "trec"} <= {
        t.name for t in online
    }
    assert all(t.sources[0]["dataset"] for t in online)
    assert {t.name for t in list_tasks(include_online=False)}.isdisjoint(t.name for t in online)


def test_unknown_task_suggests_a_name():
    with pytest.raises(UnknownNameError, match="Did you mean 'sentiment'"):
        get_task("sentimnt")


def test_missing_split_is_a_clear_error():
    with pytest.raises(ConfigError, match="has no 'test' split"):
        get_task("sst2").examples("test")


@pytest.mark.parametrize("name", BUILTIN)
def test_ten_thousand_distinct_train_examples_and_disjoint_splits(name):
    task = get_task(name)
    train = {content_key(ex, task.inputs) for ex in task.examples("train", seed=0, limit=12_000)}
    # boolean expressions of 3-5 literals are a small space (short ones recur), yet ample
    assert len(train) >= (7_000 if name == "boolean_logic" else 10_000)
    for split in ("validation", "test"):
        keys = [content_key(ex, task.inputs) for ex in task.examples(split, seed=3, limit=200)]
        assert all(split_of(k) == split for k in keys)
        assert train.isdisjoint(keys)


@pytest.mark.parametrize("name", BUILTIN)
def test_examples_have_fields_labels_and_short_inputs(name):
    task = get_task(name)
    exs = list(task.examples("train", seed=1, limit=300))
    lengths = []
    for ex in exs:
        for f in task.fields:
            assert f == task.options_field or (isinstance(ex[f], str) and ex[f].strip()), (f, ex)
        if task.options:
            assert ex[task.target] in task.options
        if task.options_field:
            assert ex[task.target] in ex["options"] and len(ex["options"]) >= 2
        if task.has_rationale:
            assert ex[task.target] in ex["rationale"]
        lengths.append(sum(len(ex[f].split()) for f in task.inputs))
    assert sorted(lengths)[int(0.9 * len(lengths))] <= 60
    if task.options:  # every label occurs, none dominates
        counts = {o: sum(ex[task.target] == o for ex in exs) for o in task.options}
        assert min(counts.values()) > 0.5 * len(exs) / len(task.options) / 2


@pytest.mark.parametrize("name", BUILTIN)
def test_streams_are_deterministic_and_seeded(name):
    task = get_task(name)
    a = list(task.examples("train", seed=5, limit=50))
    assert a == list(task.examples("train", seed=5, limit=50))
    assert a != list(task.examples("train", seed=6, limit=50))


def test_arithmetic_rationales_compute_the_answer():
    for ex in get_task("arithmetic").examples("train", limit=200):
        last = ex["rationale"].rstrip(".").split(" = ")[-1].split()[0]
        assert last == ex["answer"]


def test_sentiment_vocabulary_varies():
    words = set()
    for ex in get_task("sentiment").examples("train", limit=500):
        words.update(ex["text"].lower().split())
    assert len(words) > 300
