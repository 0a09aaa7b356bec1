"""Engine work for the batcher: batching keys, and running a batch of requests on the engine.

A batch must share one engine call, so requests are keyed by what that call fixes:
* generation: the whole `GenerationConfig` (max_new_tokens, sampling, stops, ...). Greedy
  requests drop their sampling knobs and seed (they change nothing) so they batch freely; seeded sampling
  requests get a key of their own and run alone, because a batch draws its random numbers
  jointly and the same seed must give the same text whatever else is in flight.
* rank classification: the normalization; option lists travel per prompt.
* constrained classification: one key; the runner groups rows by option set, since the
  engine's trie constraint is shared by all prompts of a call.

`run_batch(engine, key, payloads)` is what the batcher calls on its worker thread.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

from flankit.inference.engine import GenerationConfig

_solo = itertools.count()


@dataclass(frozen=True)
class GenerateWork:
    """Prompts of one completion request, each already repeated `n` times."""

    prompts: list[str]


@dataclass(frozen=True)
class ClassifyWork:
    """Prompts of one classify request with the options of each prompt."""

    prompts: list[str]
    options: list[list[str]]


def generation_key(cfg: GenerationConfig) -> tuple:
    """Batching key of a decoding config (see the module docstring for the seed rule)."""
    if not cfg.do_sample:  # sampling knobs change nothing in greedy/beam decoding: do not split batches
        cfg = dataclasses.replace(cfg, seed=None, temperature=1.0, top_k=0, top_p=1.0)
    items = tuple(
        sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in dataclasses.asdict(cfg).items())
    )
    if cfg.do_sample and cfg.seed is not None:
        return ("generate", items, next(_solo))
    return ("generate", items)


def classify_key(mode: str, normalize: str) -> tuple:
    return ("constrained",) if mode == "constrained" else ("rank", normalize)


def _split(flat: list, sizes: list[int]) -> list[list]:
    out, start = [], 0
    for size in sizes:
        out.append(flat[start : start + size])
        start += size
    return out


def run_batch(engine, key: tuple, payloads: list[Any]) -> list[Any]:
    """Run the payloads of one batch in as few engine calls as the key allows; one result each."""
    prompts = [p for work in payloads for p in work.prompts]
    sizes = [len(work.prompts) for work in payloads]
    if key[0] == "generate":
        fields = {k: list(v) if k == "stop" else v for k, v in key[1]}
        return _split(engine.generate(prompts, GenerationConfig(**fields)), sizes)
    options = [o for work in payloads for o in work.options]
    if key[0] == "rank":
        choices = engine.classify(prompts, options, normalize=key[1])
        rows = [{"choice": c.choice, "index": c.index, "scores": c.scores, "probs": c.probs} for c in choices]
    else:
        rows = _constrained(engine, prompts, options)
    return _split(rows, sizes)


def _constrained(engine, prompts: list[str], options: list[list[str]]) -> list[dict]:
    """Trie-constrained greedy decoding, one engine call per distinct option set."""
    rows: list[dict | None] = [None] * len(prompts)
    groups: dict[tuple, list[int]] = {}
    for i, opts in enumerate(options):
        groups.setdefault(tuple(opts), []).append(i)
    for opts, idx in groups.items():
        ids = engine.tokenizer(list(opts)).input_ids
        by_ids = {tuple(seq[:-1]): o for seq, o in zip(ids, opts, strict=True)}  # drop EOS
        longest = max(len(seq) for seq in ids)
        gens = engine.generate(
            [prompts[i] for i in idx], GenerationConfig(max_new_tokens=longest), allowed_outputs=list(opts)
        )
        for i, gen in zip(idx, gens, strict=True):
            choice = by_ids.get(tuple(gen.token_ids))
            if choice is None:  # fall back to the text when detokenization merged pieces
                choice = next((o for o in opts if o.strip() == gen.text.strip()), None)
            if choice is None:
                raise RuntimeError(
                    f"constrained decoding produced {gen.text!r}, which is none of the options"
                )
            rows[i] = {"choice": choice, "index": opts.index(choice), "scores": None, "probs": None}
    return rows
