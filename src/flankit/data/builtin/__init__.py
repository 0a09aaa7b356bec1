"""Offline task generators written for flankit: deterministic, seeded, no network.

Each generator is a function `gen(rng: random.Random) -> dict` that draws one raw example
(field -> value) from a large combinatorial space of short, language-like texts. Splits are
disjoint by construction: an example belongs to the split chosen by a CRC32 hash of its
input fields (90% train, 5% validation, 5% test), so the same input can never appear in
two splits no matter which seed produced it. `generate` draws candidates and keeps those
whose hash falls in the requested split.

Modules: `words` (shared vocabulary), `text_tasks` (sentiment, topic), `pair_tasks` (NLI,
paraphrase, coreference, commonsense), `reasoning` (arithmetic with rationales, boolean logic, dates,
string operations), `generation` (extractive QA, headlines, translation, dialogue).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterator, Sequence

from flankit.registry import Registry

Generator = Callable[[random.Random], dict]

GENERATORS: Registry[Generator] = Registry("builtin generator")

# Hash buckets out of 100: [0, 90) train, [90, 95) validation, [95, 100) test.
_SPLIT_BOUNDS = {"train": (0, 90), "validation": (90, 95), "test": (95, 100)}


def register(name: str) -> Callable[[Generator], Generator]:
    """Decorator registering a generator under `name`."""
    return GENERATORS.register(name)


def content_key(example: dict, fields: Sequence[str]) -> str:
    """The string that decides an example's split: its input fields joined."""
    return "\x1f".join(str(example[f]) for f in fields)


def split_of(key: str) -> str:
    """Which split an example with this content key belongs to."""
    bucket = zlib.crc32(key.encode("utf-8")) % 100
    return "train" if bucket < 90 else ("validation" if bucket < 95 else "test")


def generate(name: str, split: str, seed: int, key_fields: Sequence[str]) -> Iterator[dict]:
    """Endless stream of examples of generator `name` that belong to `split`.

    Args:
        name: registered generator name.
        split: "train", "validation" or "test".
        seed: stream seed; the same (name, split, seed) always gives the same stream.
        key_fields: input fields whose values decide the split (the task's inputs).
    """
    gen = GENERATORS.get(name)
    lo, hi = _SPLIT_BOUNDS[split]
    rng = random.Random(f"{name}/{split}/{seed}")
    crc32 = zlib.crc32
    fields = tuple(key_fields)
    while True:
        ex = gen(rng)
        key = content_key(ex, fields)
        if lo <= crc32(key.encode("utf-8")) % 100 < hi:
            yield ex


# Imported last: the modules register their generators with `register` above.
from flankit.data.builtin import generation, pair_tasks, reasoning, text_tasks  # noqa: E402,F401
