"""Local-file and Hugging Face sources: real external files, field/label mapping, bad input."""

from __future__ import annotations

import pytest

from flankit.data import sources
from flankit.data.evalsets import eval_examples
from flankit.data.mixture import load_mixture
from flankit.data.tasks import get_task, load_task_file
from flankit.errors import DataError, OfflineError


@pytest.mark.parametrize(
    ("name", "split", "rows"),
    [
        ("sst2_file", "train", 6920),
        ("sst2_file", "test", 1821),
        ("agnews_file", "train", 6073),  # carved 80/20 out of the one official file
        ("agnews_file", "test", 1527),
        ("trec_file", "train", 5452),
        ("rte_file", "train", 2490),
        ("cb_file", "validation", 56),
        ("gsm8k_file", "test", 1319),
    ],
)
def test_real_files_read_through_the_local_source(local_tasks, name, split, rows):
    task = get_task(name)
    exs = list(task.examples(split, seed=0))
    assert len(exs) == rows
    for ex in exs[:200]:
        assert all(isinstance(ex[f], str) and ex[f] for f in task.fields)
        if task.options:
            assert ex["label"] in task.options
    assert list(task.examples(split, seed=0, limit=20)) == exs[:20]
    assert list(task.examples(split, seed=1, limit=20)) != exs[:20]


def test_real_file_mappings_are_right(local_tasks):
    sst = next(get_task("sst2_file").examples("train", seed=0))
    assert sst["text"][0] != " " and sst["label"] in ("negative", "positive")
    ag = [
        ex
        for ex in get_task("agnews_file").examples("train")
        if ex["text"].startswith("Fears for T N pension")
    ]
    assert ag[0]["label"] == "business" and "Unions representing workers" in ag[0]["text"]
    trec = {ex["label"] for ex in get_task("trec_file").examples("train")}
    assert trec == {"abbreviation", "entity", "description", "person", "location", "number"}
    gsm = [
        ex
        for ex in get_task("gsm8k_file").examples("train")
        if ex["question"].startswith("Natalia sold clips")
    ][0]
    assert gsm["answer"] == "72" and "<<" not in gsm["rationale"] and "48/2 = 24" in gsm["rationale"]


def test_local_tasks_render_and_mix(local_tasks, tmp_path):
    items = eval_examples("rte_file", "nli-zs01", split="validation", shots=2, limit=10)
    assert len(items) == 10 and all(it["targets"] in it["options"] for it in items)
    cot = eval_examples("gsm8k_file", "arithmetic-cot01", split="test", cot=True, limit=3)
    assert all(it["targets"].endswith(f"So the answer is {it['answer']}.") for it in cot)
    mix = tmp_path / "mix.yaml"
    mix.write_text(
        f"task_files: [{local_tasks}]\ntasks: [sst2_file, trec_file, cb_file, sentiment]\n"
        "weights: {cb_file: 40}\n",  # its true size (250 rows) would rarely draw it
        encoding="utf-8",
    )
    recs = list(load_mixture(mix).sample(3000, seed=0))
    assert {r["task"] for r in recs} == {"sst2_file", "trec_file", "cb_file", "sentiment"}
    cb = sum(r["task"] == "cb_file" for r in recs)
    assert cb > 250  # the 250-row file is cycled over epochs without error


def _local(tmp_path, name: str, text: str, **spec) -> dict:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return {"type": "local", "files": {"train": str(path)}, **spec}


def test_tsv_csv_and_field_mapping(tmp_path, make_task):
    tsv = _local(
        tmp_path,
        "d.tsv",
        "review\tstars\nlovely\t5\nawful\t1\n",
        fields={"text": "review", "label": "stars"},
        label_map={"5": "positive", "1": "negative"},
    )
    assert [e["label"] for e in sources.read_local(make_task(tsv), tsv, "train")] == ["positive", "negative"]
    csv_ = _local(
        tmp_path,
        "d.csv",
        "good,1\nbad,0\n",
        columns=["t", "y"],
        fields={"text": "Review: {t}", "label": "y"},
        label_map={"1": "positive", "0": "negative"},
    )
    assert sources.read_local(make_task(csv_), csv_, "train")[0] == {
        "text": "Review: good",
        "label": "positive",
    }


@pytest.mark.parametrize(
    ("fname", "text", "spec", "line", "problem"),
    [
        ("a.jsonl", '{"text": "ok", "label": "positive"}\n{"text": "oops"\n', {}, 2, "invalid JSON"),
        (
            "b.jsonl",
            '{"text": "ok", "label": "positive"}\n{"text": "ok", "label": "meh"}\n',
            {},
            2,
            "not one of",
        ),
        ("c.txt", "1 fine film\n0\n", {"label_map": {"0": "negative", "1": "positive"}}, 2, "LABEL text"),
        ("d.csv", "text,label\nok,positive\nok,positive,extra\n", {}, 3, "expected 2 columns"),
        (
            "e.jsonl",
            '{"text": "ok", "label": "positive"}\n{"label": "positive"}\n',
            {},
            2,
            "missing field 'text'",
        ),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, make_task, fname, text, spec, line, problem):
    src = _local(tmp_path, fname, text, **spec)
    with pytest.raises(DataError, match=rf"{fname}:{line}: malformed line .*{problem}.*skip_bad_lines"):
        sources.read_local(make_task(src), src, "train")
    good = sources.read_local(make_task(src), src, "train", skip_bad_lines=True)
    assert len(good) == 1
    src["skip_bad_lines"] = True
    assert len(sources.read_local(make_task(src), src, "train")) == 1


def test_empty_missing_and_undecodable_sources(tmp_path, make_task):
    empty = _local(tmp_path, "empty.jsonl", "\n")
    with pytest.raises(DataError, match="no usable examples"):
        sources.read_local(make_task(empty), empty, "train")
    gone = {"type": "local", "files": {"train": str(tmp_path / "nope.jsonl")}}
    with pytest.raises(DataError, match="file not found"):
        sources.read_local(make_task(gone), gone, "train")
    (tmp_path / "latin.txt").write_bytes("1 caf\xe9 ok\n".encode("latin-1"))
    lat = {
        "type": "local",
        "format": "label_text",
        "files": {"train": str(tmp_path / "latin.txt")},
        "label_map": {"1": "positive"},
    }
    with pytest.raises(DataError, match="set `encoding`"):
        sources.read_local(make_task(lat), lat, "train")


def test_bad_task_file_is_a_config_error(tmp_path):
    from flankit.errors import ConfigError

    bad = tmp_path / "t.yaml"
    bad.write_text(
        "tasks:\n  - {name: x, cluster: c, version: 1, kind: classification, inputs: [a], target: b, sources: [{type: builtin}], optons: [p]}\n"
    )
    with pytest.raises(ConfigError, match="unknown key 'optons'. Did you mean 'options'"):
        load_task_file(bad)


def test_hub_source_maps_fields_and_reports_offline(monkeypatch):
    import datasets

    rows = {
        "copa": [
            {
                "premise": "The glass broke.",
                "question": "cause",
                "choice1": "It fell.",
                "choice2": "It sang.",
                "label": 0,
            }
        ],
        "squad": [
            {
                "context": "Paris is in France.",
                "question": "Where is Paris?",
                "answers": {"text": ["France"], "answer_start": [12]},
            }
        ],
        "gsm8k": [{"question": "1+1?", "answer": "Add: 1+1=<<1+1=2>>2.\n#### 2"}],
        "commonsense_qa": [
            {"question": "Q?", "choices": {"label": ["A", "B"], "text": ["x", "y"]}, "answerKey": "B"}
        ],
    }
    current = {}
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: current["rows"])
    for name, data in rows.items():
        current["rows"] = data
        sources._ROWS.clear()
        ex = next(get_task(name).examples("train"))
        assert all(ex[f] for f in get_task(name).fields), ex
    assert ex["answer"] == "y" and ex["options"] == ["x", "y"]

    def offline(*a, **k):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    sources._ROWS.clear()
    with pytest.raises(
        OfflineError, match="cannot load Hugging Face dataset nyu-mll/glue/sst2.*Connect to the network"
    ):
        next(get_task("sst2").examples("train"))
