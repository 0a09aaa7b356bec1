"""Mixtures: determinism, rates with caps/temperature/weights, submixtures, formats, held-out, leakage."""

from __future__ import annotations

import json
import math
import re
import tracemalloc
from collections import Counter

import pytest

from flankit.data.builtin import content_key, split_of
from flankit.data.evalsets import eval_examples
from flankit.data.mixture import corpus_text, load_mixture, to_dataset
from flankit.data.tasks import builtin_tasks, get_task
from flankit.data.templates import templates_for
from flankit.errors import ConfigError, UnknownNameError


def _dump(records) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def _within(count: int, n: int, p: float, sigmas: float = 4.5) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


def _write(tmp_path, text: str):
    path = tmp_path / "mix.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_same_seed_same_bytes_different_seed_differs():
    mix = load_mixture("builtin")
    a = _dump(mix.sample(1500, seed=7))
    assert a == _dump(load_mixture("builtin").sample(1500, seed=7))
    assert a != _dump(mix.sample(1500, seed=8))
    rec = json.loads(a.splitlines()[0])
    assert set(rec) == {"inputs", "targets", "task", "cluster", "template", "format"}


def test_rates_hold_on_a_large_draw():
    mix = load_mixture("builtin")
    n = 20_000
    counts = Counter(r["task"] for r in mix.sample(n, seed=1))
    for task, p in mix.rates().items():
        assert _within(counts[task], n, p), (task, counts[task], n * p)


def test_caps_temperature_and_weights(tmp_path):
    # sizes: sentiment 60k, topic 50k, nli 80k, coreference 20k; cap 30k; nli weighted x3.
    mix = load_mixture(
        _write(tmp_path, "tasks: [sentiment, topic, nli, coreference]\ncap: 30000\nweights: {nli: 3}\n")
    )
    expected = {"sentiment": 30, "topic": 30, "nli": 90, "coreference": 20}
    total = sum(expected.values())
    assert mix.rates() == pytest.approx({k: v / total for k, v in expected.items()})
    n = 10_000
    counts = Counter(r["task"] for r in mix.sample(n, seed=2))
    assert all(_within(counts[k], n, v / total) for k, v in expected.items())
    hot = load_mixture(_write(tmp_path, "tasks: [nli, coreference]\ntemperature: 2.0\n")).rates()
    assert hot["nli"] / hot["coreference"] == pytest.approx(math.sqrt(80_000 / 20_000))


def test_submixture_weights_follow_flan2022():
    mix = load_mixture("flan2022_builtin")
    n = 20_000
    counts = Counter(r["task"] for r in mix.sample(n, seed=3))
    muffin = ["nli", "sentiment", "topic", "extractive_qa", "headlines", "translation"]
    assert sum(mix.rates()[t] for t in muffin) == pytest.approx(0.4)
    assert _within(sum(counts[t] for t in muffin), n, 0.4)
    assert _within(counts["dialogue_summary"], n, 0.03)
    assert sum(mix.rates().values()) == pytest.approx(1.0)


def test_format_split_and_fallbacks(tmp_path):
    fmts = {"zs_opt": 0.4, "zs_noopt": 0.3, "cot": 0.3}
    mix = load_mixture(_write(tmp_path, f"tasks: [boolean_logic, headlines]\nformats: {json.dumps(fmts)}\n"))
    n = 6000
    recs = list(mix.sample(n, seed=4))
    logic = Counter(r["format"] for r in recs if r["task"] == "boolean_logic")
    m = sum(logic.values())
    assert all(_within(logic[f], m, p) for f, p in fmts.items())
    # headlines has neither options nor rationales: only the no-options format remains.
    assert {r["format"] for r in recs if r["task"] == "headlines"} == {"zs_noopt"}
    assert all(
        r["targets"].endswith(f"So the answer is {r['targets'].split()[-1]}")
        for r in recs
        if r["format"] == "cot"
    )


def test_held_out_clusters_tasks_and_templates(tmp_path):
    recs = list(load_mixture("builtin_heldout_nli").sample(3000, seed=5))
    assert not {"nli", "paraphrase"} & {r["cluster"] for r in recs}
    held = {t.id for task in builtin_tasks() for t in templates_for(task.name) if t.heldout}
    assert held and not held & {r["template"] for r in load_mixture("builtin").sample(5000, seed=5)}
    mix = load_mixture(
        _write(tmp_path, "tasks: builtin\nheldout: {tasks: [topic], templates: [sentiment-zs01]}\n")
    )
    recs = list(mix.sample(3000, seed=6))
    assert "topic" not in {r["task"] for r in recs}
    assert "sentiment-zs01" not in {r["template"] for r in recs}
    assert {"sentiment-zs09", "sentiment-zs10"} & {
        r["template"] for r in recs
    }  # held-out flags ignored on request


def test_no_eval_example_leaks_into_training_or_exemplars(tmp_path):
    task = get_task("sentiment")
    held = {ex["text"] for split in ("validation", "test") for ex in task.examples(split, seed=0, limit=400)}
    # Keep only template zs01 ("Review: {text}\nIs this review ...") so every text can be parsed back out.
    others = [t.id for t in templates_for("sentiment") if t.id != "sentiment-zs01"]
    spec = f"tasks: [sentiment]\nformats: {{fs_noopt: 1}}\nheldout: {{templates: {json.dumps(others)}}}\n"
    recs = list(load_mixture(_write(tmp_path, spec)).sample(3000, seed=0))
    texts = [t for r in recs for t in re.findall(r"Review: (.*)\nIs this review", r["inputs"])]
    assert len(texts) > 2 * len(recs)  # few-shot prompts: exemplars plus the query
    assert held.isdisjoint(texts)
    assert all(split_of(content_key({"text": t}, ["text"])) == "train" for t in texts)
    for item in eval_examples("sentiment", "sentiment-zs01", shots=3, limit=100, seed=0):
        *shots, query = re.findall(r"Review: (.*)\nIs this review", item["inputs"])
        assert len(shots) == 3 and split_of(query) == "test"
        assert all(split_of(s) == "train" for s in shots)


def test_few_shot_respects_token_budget(tmp_path):
    mix = load_mixture(
        _write(
            tmp_path,
            "tasks: [extractive_qa]\nformats: {fs_noopt: 1}\nfew_shot: {max_shots: 5, token_budget: 120}\n",
        )
    )
    recs = list(mix.sample(500, seed=1))
    assert max(len(r["inputs"].split()) for r in recs) <= 120 + 5 * 4
    assert {r["format"] for r in recs} <= {"fs_noopt", "zs_noopt"}


def test_sampler_memory_is_flat():
    mix = load_mixture("builtin")

    def peak(n: int) -> int:
        tracemalloc.start()
        for _ in mix.sample(n, seed=0):
            pass
        out = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return out

    small, large = peak(1000), peak(10_000)
    assert large < small * 1.5 + 200_000


def test_bad_mixtures_are_clear_errors(tmp_path):
    with pytest.raises(UnknownNameError, match="Did you mean 'builtin'"):
        load_mixture("bultin")
    with pytest.raises(ConfigError, match="unknown key 'formts'"):
        load_mixture(_write(tmp_path, "tasks: builtin\nformts: {zs_opt: 1}\n"))
    with pytest.raises(ConfigError, match="unknown format 'zero_shot'"):
        load_mixture(_write(tmp_path, "tasks: builtin\nformats: {zero_shot: 1}\n"))
    with pytest.raises(ConfigError, match="every task is held out"):
        load_mixture(_write(tmp_path, "tasks: [nli]\nheldout: {clusters: [nli]}\n"))
    with pytest.raises(UnknownNameError, match="Unknown task 'nil'"):
        load_mixture(_write(tmp_path, "tasks: [nil]\n"))


def test_dataset_export_and_tokenizer_corpus():
    ds = to_dataset(load_mixture("builtin").sample(200, seed=0))
    assert ds.num_rows == 200 and set(ds.column_names) == {
        "inputs",
        "targets",
        "task",
        "cluster",
        "template",
        "format",
    }
    texts = list(corpus_text(50, seed=1))
    assert len(texts) == 100 and all(isinstance(t, str) and t for t in texts)
    assert texts == list(corpus_text(50, seed=1))


def test_eval_examples_contract():
    items = eval_examples("coreference", "coreference-zs01", limit=30, seed=2)
    assert len(items) == 30
    for it in items:
        assert it["targets"] in it["options"] and it["format"] == "zs_opt"
    cot = eval_examples("date_arithmetic", "date_arithmetic-cot01", cot=True, limit=5)
    assert all(it["targets"].endswith(f"So the answer is {it['answer']}.") for it in cot)
    with pytest.raises(ConfigError, match="pass cot=True"):
        eval_examples("date_arithmetic", "date_arithmetic-cot01", limit=5)
    assert eval_examples("nli", "nli-zs02", limit=20) == eval_examples("nli", "nli-zs02", limit=20)
