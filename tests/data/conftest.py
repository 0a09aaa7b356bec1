"""Fixtures for the data tests: the real external files and a task file that reads them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

EXTERNAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "external"

_CLS = {"version": 1, "kind": "classification", "family": "classification", "metrics": ["accuracy"]}
_NLI = {**_CLS, "cluster": "nli", "inputs": ["premise", "hypothesis"], "target": "label", "templates": "nli"}
_TEXT = {**_CLS, "inputs": ["text"], "target": "label"}
_TREC = ["abbreviation", "entity", "description", "person", "location", "number"]


def _local_tasks(ext: str) -> list[dict]:
    """Local-file tasks over the real external files (one per format the source supports)."""
    return [
        {
            **_TEXT,
            "name": "sst2_file",
            "cluster": "sentiment",
            "options": ["negative", "positive"],
            "templates": "sentiment",
            "size": 6920,
            "sources": [
                {
                    "type": "local",
                    "format": "label_text",
                    "label_map": {"0": "negative", "1": "positive"},
                    "files": {
                        "train": f"{ext}/sst2/stsa.binary.train",
                        "validation": f"{ext}/sst2/stsa.binary.dev",
                        "test": f"{ext}/sst2/stsa.binary.test",
                    },
                }
            ],
        },
        {
            **_TEXT,
            "name": "agnews_file",
            "cluster": "topic",
            "options": ["world", "sports", "business", "science"],
            "templates": "topic",
            "splits": ["test"],
            "sources": [
                {
                    "type": "local",
                    "files": {"test": f"{ext}/agnews/test.csv"},
                    "fields": {"text": "{Title}. {Description}", "label": "Class Index"},
                    "label_map": {"1": "world", "2": "sports", "3": "business", "4": "science"},
                }
            ],
        },
        {
            **_TEXT,
            "name": "trec_file",
            "cluster": "topic",
            "options": _TREC,
            "templates": "question_type",
            "splits": ["train", "test"],
            "sources": [
                {
                    "type": "local",
                    "format": "label_text",
                    "encoding": "latin-1",
                    "hook": "trec_coarse",
                    "files": {"train": f"{ext}/trec/train.txt", "test": f"{ext}/trec/test.txt"},
                    "label_map": dict(zip(["ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM"], _TREC, strict=True)),
                }
            ],
        },
        {
            **_NLI,
            "name": "rte_file",
            "options": ["yes", "no"],
            "splits": ["train", "validation"],
            "sources": [
                {
                    "type": "local",
                    "files": {"train": f"{ext}/rte/train.jsonl", "validation": f"{ext}/rte/val.jsonl"},
                    "label_map": {"entailment": "yes", "not_entailment": "no"},
                }
            ],
        },
        {
            **_NLI,
            "name": "cb_file",
            "options": ["yes", "no", "maybe"],
            "splits": ["train", "validation"],
            "sources": [
                {
                    "type": "local",
                    "files": {"train": f"{ext}/cb/train.jsonl", "validation": f"{ext}/cb/val.jsonl"},
                    "label_map": {"entailment": "yes", "contradiction": "no", "neutral": "maybe"},
                }
            ],
        },
        {
            "name": "gsm8k_file",
            "cluster": "arithmetic",
            "version": 1,
            "kind": "generation",
            "family": "reasoning",
            "inputs": ["question"],
            "target": "answer",
            "metrics": ["exact_match"],
            "has_rationale": True,
            "templates": "arithmetic",
            "splits": ["train", "test"],
            "sources": [
                {
                    "type": "local",
                    "hook": "gsm8k",
                    "files": {"train": f"{ext}/gsm8k/train.jsonl", "test": f"{ext}/gsm8k/test.jsonl"},
                }
            ],
        },
    ]


@pytest.fixture(scope="session")
def external() -> Path:
    if not (EXTERNAL / "sst2").is_dir():
        pytest.skip(f"external datasets not found at {EXTERNAL}")
    return EXTERNAL.resolve()


@pytest.fixture(scope="session")
def local_tasks(external: Path, tmp_path_factory) -> Path:
    """A task YAML declaring local-file tasks over the real external files; loaded into the registry."""
    from flankit.data.tasks import load_task_file

    path = tmp_path_factory.mktemp("tasks") / "external_tasks.yaml"
    path.write_text(yaml.safe_dump({"tasks": _local_tasks(str(external))}), encoding="utf-8")
    load_task_file(path)
    return path


@pytest.fixture
def make_task(tmp_path: Path):
    """Factory: a small text -> label task over the given source spec (not registered)."""
    from flankit.data.tasks import Task

    def factory(source: dict, **overrides) -> Task:
        spec = dict(
            name=f"tmp_{tmp_path.name}",
            cluster="sentiment",
            version=1,
            kind="classification",
            family="classification",
            inputs=["text"],
            target="label",
            options=["negative", "positive"],
            metrics=["accuracy"],
            templates="sentiment",
            sources=[source],
        )
        spec.update(overrides)
        return Task(**spec)

    return factory
