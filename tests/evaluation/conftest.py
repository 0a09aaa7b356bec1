"""Fixtures for evaluation tests: the real external data folder and fake models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

EXTERNAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "external"


@pytest.fixture
def external() -> Path:
    if not EXTERNAL.is_dir():
        pytest.skip("../shared/external (real evaluation sets) is absent")
    return EXTERNAL.resolve()


@dataclass
class FakeChoice:
    choice: str
    index: int


class OracleModel:
    """Gold echo: returns each prompt's reference (the full target when generating).

    Real sets repeat a prompt with different gold answers (BBH causal_judgement), so each
    prompt keeps a queue of its items, consumed in the order the harness asks.
    """

    def __init__(self, cells):
        self.queues: dict[str, list[dict]] = {}
        for cell in cells:
            for it in cell.items:
                self.queues.setdefault(it["inputs"], []).append(it)
        self.calls = {"generate": 0, "classify": 0}

    def _next(self, prompt):
        return self.queues[prompt].pop(0)

    def generate(self, prompts, config=None, **overrides):
        self.calls["generate"] += 1
        return [self._next(p)["targets"] for p in prompts]

    def classify(self, prompts, options, normalize="mean"):
        self.calls["classify"] += 1
        answers = [self._next(p)["targets"] for p in prompts]  # the right option, as rendered
        return [FakeChoice(a, opts.index(a)) for a, opts in zip(answers, options, strict=True)]


class ConstantModel:
    """Always answers `answer` (or the first option when `answer` is not an option)."""

    def __init__(self, answer: str):
        self.answer = answer

    def generate(self, prompts, config=None, **overrides):
        return [self.answer for _ in prompts]

    def classify(self, prompts, options, normalize="mean"):
        return [
            FakeChoice(self.answer, o.index(self.answer)) if self.answer in o else FakeChoice(o[0], 0)
            for o in options
        ]


@pytest.fixture
def oracle():
    """The gold-echo model class: `oracle(cells)`."""
    return OracleModel


@pytest.fixture
def constant():
    """The constant-answer model class: `constant(answer)`."""
    return ConstantModel


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A randomly initialised tiny T5 with a small tokenizer, saved as a model folder."""
    import json

    import torch

    from flankit.modeling.load import build_tiny, train_tokenizer

    torch.set_num_threads(1)
    if not EXTERNAL.is_dir():
        pytest.skip("../shared/external (tokenizer training text) is absent")
    out = tmp_path_factory.mktemp("tiny_t5")
    texts = [json.loads(line)["question"] for line in (EXTERNAL / "gsm8k" / "train.jsonl").open()][:2000]
    tok = train_tokenizer(texts, out, vocab_size=600)
    build_tiny("tiny", vocab_size=len(tok), seed=0).save_pretrained(out)
    return out
