"""Local-file tasks over the real public datasets kept in `../shared/external` (read in place).

`external_task_specs(root)` returns task mappings (the `tasks:` entries of a task YAML) that
read SST-2, AG News, TREC, RTE, CommitmentBank and GSM8K in their original formats through the
local-file source (`flankit.data.sources`); `register_external_tasks(root)` writes them to a
task YAML and registers them, so mixtures (`task_files:`), evaluation and tests can use them
by name:

    >>> from flankit.data.external import register_external_tasks    # doctest: +SKIP
    >>> path = register_external_tasks("../shared/external")           # doctest: +SKIP
    >>> # mixture YAML: task_files: [<path>]  tasks: [sst2_file, agnews_file, ...]

AG News ships only its official test split, so its source carves a deterministic 80/20
train/test split out of that file (`carve: {test: 0.2}`, by a stable hash of each row).
Task names end in `_file` so they never shadow the hub tasks of the online catalog.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from flankit.errors import DataError

EXTERNAL_TASKS = ("sst2_file", "agnews_file", "trec_file", "rte_file", "cb_file", "gsm8k_file")
AGNEWS_TEST_SHARE = 0.2

_CLS = {"version": 1, "kind": "classification", "family": "classification", "metrics": ["accuracy"]}
_NLI = {**_CLS, "cluster": "nli", "inputs": ["premise", "hypothesis"], "target": "label", "templates": "nli"}
_TEXT = {**_CLS, "inputs": ["text"], "target": "label"}
_TREC = ["abbreviation", "entity", "description", "person", "location", "number"]


def external_task_specs(root: str | Path) -> list[dict]:
    """Task mappings over the external files under `root` (one per dataset; paths are absolute).

    Args:
        root: the external datasets folder (holding sst2/, agnews/, trec/, rte/, cb/, gsm8k/).

    Returns:
        dicts accepted by `flankit.data.tasks.task_from_dict`, named as in `EXTERNAL_TASKS`.
    """
    ext = str(Path(root).expanduser().resolve())
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
            "splits": ["train", "test"],
            "size": round(7600 * (1 - AGNEWS_TEST_SHARE)),
            "sources": [
                {
                    "type": "local",
                    # the only file is the official test split: carve train and test out of it
                    "files": {"test": f"{ext}/agnews/test.csv"},
                    "carve": {"from": "test", "test": AGNEWS_TEST_SHARE},
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
            "size": 5452,
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
            "size": 2490,
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
            "size": 250,
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
            "size": 7473,
            "sources": [
                {
                    "type": "local",
                    "hook": "gsm8k",
                    "files": {"train": f"{ext}/gsm8k/train.jsonl", "test": f"{ext}/gsm8k/test.jsonl"},
                }
            ],
        },
    ]


def register_external_tasks(root: str | Path, folder: str | Path | None = None) -> Path:
    """Write the external tasks to `external_tasks.yaml` and register them (re-registering replaces).

    Args:
        root: the external datasets folder.
        folder: where the task YAML goes (a new temporary folder when None).

    Returns:
        The task YAML's path, usable as a mixture's `task_files` entry.

    Raises:
        DataError: `root` does not hold the external datasets.
    """
    from flankit.data.tasks import load_task_file

    root = Path(root).expanduser()
    missing = [d for d in ("sst2", "agnews", "trec", "rte", "cb", "gsm8k") if not (root / d).is_dir()]
    if missing:
        raise DataError(
            f"{root} does not hold the external datasets (missing {', '.join(missing)}/); pass the folder "
            "holding sst2/, agnews/, trec/, rte/, cb/ and gsm8k/ (e.g. ../shared/external)."
        )
    out = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="flankit-external-"))
    out.mkdir(parents=True, exist_ok=True)
    path = out / "external_tasks.yaml"
    path.write_text(yaml.safe_dump({"tasks": external_task_specs(root)}, sort_keys=False), encoding="utf-8")
    load_task_file(path)
    return path
