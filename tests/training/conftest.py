"""Fixtures for trainer tests: a tiny saved T5 + tokenizer, a JSONL data file, config builders."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess

import pytest
import torch

from flankit.training.config import TrainConfig, load_config
from t5_testing import WORDS, tiny_model_dir


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_model")
    tiny_model_dir(folder, seed=0)
    return folder


def write_records(path, n: int, seed: int = 0) -> None:
    """A toy task: answer 'yes' when the sentence mentions a cat, else 'no'; varied lengths."""
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(n):
            words = [rnd.choice(WORDS) for _ in range(rnd.randint(2, 24))]
            target = (
                "yes" if "cat" in words else " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 6)))
            )
            fh.write(
                json.dumps({"inputs": "does it mention a cat? " + " ".join(words), "targets": target}) + "\n"
            )


@pytest.fixture(scope="session")
def train_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    write_records(path, 400)
    return path


@pytest.fixture
def make_config(model_dir, train_file, tmp_path):
    """Build a small fast TrainConfig; keyword overrides use `section.key=value` strings."""

    def build(*overrides: str, out: str = "run") -> TrainConfig:
        base = [
            f"output_dir={tmp_path / out}",
            f"model.name={model_dir}",
            f"data.train_file={train_file}",
            "data.mixture=null",
            "data.input_length=64",
            "data.target_length=16",
            "data.validation_examples=0",
            "train.steps=6",
            "train.batch_size=4",
            "train.optimizer=adamw",
            "train.lr=0.003",
            "train.precision=fp32",
            "train.progress=false",
            "train.log_every=1",
            "train.num_threads=1",
        ]
        return load_config(None, base + list(overrides))

    torch.set_num_threads(1)
    return build


@pytest.fixture
def config_cls():
    return TrainConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def run_two_processes(tmp_path):
    """Run `argv(rank)` as ranks 0 and 1 of a localhost process group and wait for both.

    `env` adds variables to both; a process that fails fails the test with its output. Output
    goes to files, not pipes: a full pipe would block one rank while the other waits for it.
    """

    def run(argv, env: dict | None = None, timeout: float = 180) -> None:
        group = {"WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
        logs = [tmp_path / f"rank{rank}-{group['MASTER_PORT']}.log" for rank in range(2)]
        procs = []
        for rank, log in enumerate(logs):
            with log.open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        argv(rank),
                        env={
                            **os.environ,
                            **group,
                            "RANK": str(rank),
                            "LOCAL_RANK": str(rank),
                            **(env or {}),
                        },
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        try:
            for p, log in zip(procs, logs):
                p.wait(timeout=timeout)
                assert p.returncode == 0, log.read_text(errors="replace")[-3000:]
        finally:  # a failed or hung rank must not leave its peer waiting forever
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()

    return run
