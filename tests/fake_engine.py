"""A deterministic stand-in for `flankit.inference.engine.Engine` (tests of code built on its API).

`FakeEngine` implements generate / classify / tokenizer / count_tokens with whitespace tokens,
rejects prompts over `max_input_tokens` like the real engine, and records every call, so tests
can check both results and exactly what the higher-level code asked for.
`real_tiny_engine()` builds the real Engine once per test process on a random tiny T5.
"""

from __future__ import annotations

import atexit
import math
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache

from flankit.errors import InputTooLongError

EOS = 1


class WhitespaceTokenizer:
    """Words are tokens; ids come from a growing vocabulary; offsets map ids back to the text."""

    def __init__(self, is_fast: bool = True):
        self.is_fast = is_fast
        self.vocab: dict[str, int] = {}
        self.words: dict[int, str] = {}

    def _id(self, word: str) -> int:
        if word not in self.vocab:
            self.vocab[word] = len(self.vocab) + 2
            self.words[self.vocab[word]] = word
        return self.vocab[word]

    def __call__(self, text, add_special_tokens: bool = True, return_offsets_mapping: bool = False):
        matches = list(re.finditer(r"\S+", text))
        out = {"input_ids": [self._id(m.group()) for m in matches] + ([EOS] if add_special_tokens else [])}
        if return_offsets_mapping:
            out["offset_mapping"] = [m.span() for m in matches]
        return out

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return " ".join(self.words[i] for i in ids if i != EOS)


class FakeGeneration(str):
    def __new__(cls, text: str, sequences: list[str]):
        obj = super().__new__(cls, text)
        obj.sequences = sequences
        return obj


@dataclass
class FakeChoice:
    choice: str
    index: int
    scores: dict
    probs: dict


def count_score(prompt: str, option: str) -> float:
    """Default classify score: how often the option occurs as a word in the prompt."""
    return float(len(re.findall(rf"(?<!\w){re.escape(option)}(?!\w)", prompt, flags=re.IGNORECASE)))


class FakeEngine:
    """Deterministic engine.

    Args:
        respond: (prompt, sample_index, overrides) -> text, for `generate`.
        score: (prompt, option) -> log-likelihood-like score, for `classify`.
        max_input_tokens: prompts over this many tokens (EOS included) raise InputTooLongError.
    """

    def __init__(self, respond=None, score=count_score, max_input_tokens: int = 64, is_fast: bool = True):
        self.respond = respond or (lambda prompt, i, overrides: prompt.split()[-1])
        self.score = score
        self.max_input_tokens = max_input_tokens
        self.tokenizer = WhitespaceTokenizer(is_fast)
        self.calls: list[tuple[str, list[str], dict]] = []

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text)["input_ids"])

    def _check(self, prompts: list[str]) -> None:
        for i, p in enumerate(prompts):
            if self.count_tokens(p) > self.max_input_tokens:
                raise InputTooLongError(
                    f"prompt {i} has {self.count_tokens(p)} tokens > {self.max_input_tokens}"
                )

    def generate(self, prompts, config=None, **overrides):
        self._check(prompts)
        self.calls.append(("generate", list(prompts), dict(overrides, config=config)))
        k = overrides.get("num_return_sequences", 1)
        out = []
        for p in prompts:
            seqs = [self.respond(p, i, overrides) for i in range(k)]
            out.append(FakeGeneration(seqs[0], seqs))
        return out

    def classify(self, prompts, options, normalize="mean"):
        self._check(prompts)
        self.calls.append(("classify", list(prompts), {"options": options}))
        per_prompt = options if options and isinstance(options[0], list) else [options] * len(prompts)
        results = []
        for p, opts in zip(prompts, per_prompt, strict=True):
            scores = {o: self.score(p, o) for o in opts}
            top = max(scores.values())
            total = sum(math.exp(s - top) for s in scores.values())
            probs = {o: math.exp(s - top) / total for o, s in scores.items()}
            best = max(opts, key=lambda o: scores[o])  # first option wins ties
            results.append(FakeChoice(best, opts.index(best), scores, probs))
        return results


@lru_cache(maxsize=1)
def real_tiny_engine():
    """The real Engine on a random tiny T5 (built once per process; budget 128 tokens)."""
    import torch

    from flankit.inference.engine import Engine
    from t5_testing import tiny_model_dir

    torch.set_num_threads(1)
    folder = tempfile.mkdtemp(prefix="flankit-tiny-engine-")
    atexit.register(shutil.rmtree, folder, True)
    tiny_model_dir(folder)
    return Engine.from_pretrained(folder, max_input_tokens=128)
