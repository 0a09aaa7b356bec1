"""Training data: records -> token pairs -> a deterministic plan of rows for every step.

Records come from a mixture (`flankit.data.mixture.load_mixture(name).sample(n, seed)`) or
a JSONL file of `{"inputs", "targets"}`; for span corruption, from plain-text files (or the
records' text). Everything is materialised up front and ordered by seeds only, so the rows
of step `s` are a pure function of the config: resuming needs no data-loader state beyond
the step number, and every process knows the whole global batch (its weight is the loss
denominator) while it trains only on its own share.

Sharding: the global batch of a step is `batch_size * grad_accum * world` rows; micro-batch
`m` of process `r` is the slice `[(m * world + r) * batch_size, ... + batch_size)`.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from flankit.data.features import Pair, fill_grouped_rows, length_grouped_rows, pack_rows, tokenize_pairs
from flankit.errors import DataError
from flankit.training.config import DataSection, TrainConfig

VALIDATION_SEED_OFFSET = 7919


def read_jsonl(path: str | Path) -> list[dict]:
    """`{"inputs", "targets"}` records from a JSONL file, with line-numbered errors."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"training file {str(p)!r} does not exist")
    records = []
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{p}:{n}: not valid JSON ({exc.msg})") from None
            if (
                not isinstance(rec, dict)
                or not isinstance(rec.get("inputs"), str)
                or not isinstance(rec.get("targets"), str)
            ):
                raise DataError(f'{p}:{n}: each line must be an object with string "inputs" and "targets"')
            records.append(rec)
    if not records:
        raise DataError(f"{p} holds no records")
    return records


def _mixture_records(name: str, n: int, seed: int) -> list[dict]:
    from flankit.data.mixture import load_mixture

    return list(load_mixture(name).sample(n, seed))


def load_records(data: DataSection, split: str = "train") -> list[dict]:
    """Training or validation records for the data section ([] when there are none)."""
    if split == "validation":
        if data.validation_examples <= 0:
            return []
        if data.validation_file:
            return read_jsonl(data.validation_file)[: data.validation_examples]
        if data.train_file or not data.mixture:
            return []
        return _mixture_records(data.mixture, data.validation_examples, data.seed + VALIDATION_SEED_OFFSET)
    if data.train_file:
        return read_jsonl(data.train_file)
    if data.mixture:
        return _mixture_records(data.mixture, data.num_examples, data.seed)
    return []


def read_texts(files: list[str]) -> list[str]:
    """Non-empty lines of plain-text files (one document or paragraph per line)."""
    texts = []
    for f in files:
        p = Path(f)
        if not p.is_file():
            raise DataError(f"text file {str(p)!r} does not exist")
        texts += [
            line.strip()
            for line in p.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.strip()
        ]
    if not texts:
        raise DataError(f"the text files {files} hold no text")
    return texts


def corpus(records: list[dict]) -> Iterator[str]:
    """The text of records, for training a tokenizer or span corruption."""
    for r in records:
        yield r["inputs"]
        yield r["targets"]


def build_pairs(cfg: TrainConfig, tokenizer, records: list[dict], cut: Counter | None = None) -> list[Pair]:
    """Token pairs for the objective: (inputs, targets) fitted to the lengths by `data.overlong`
    (`cut` counts what was over them), or span-corrupted text chunks (which fit by construction)."""
    d = cfg.data
    if cfg.train.objective == "span_corruption":
        from flankit.training.objectives import span_corruption_pairs

        texts = read_texts(d.text_files) if d.text_files else list(corpus(records))
        return span_corruption_pairs(texts, tokenizer, d.input_length, d.target_length, seed=d.seed)
    pairs = tokenize_pairs(records, tokenizer, d.input_length, d.target_length, cut=cut, overlong=d.overlong)
    if not pairs:
        raise DataError(
            f"every one of the {len(records)} examples is longer than data.input_length={d.input_length} "
            f"or data.target_length={d.target_length}, and data.overlong=drop leaves them all out: "
            "raise the lengths or set data.overlong=truncate"
        )
    return pairs


def truncation_report(cut: Counter, n: int, data: DataSection) -> dict:
    """What `data.overlong` did to `n` training examples, with a warning when any were over a length."""
    report = {
        "examples": n,
        "inputs_over": cut["inputs"],
        "targets_over": cut["targets"],
        "overlong": data.overlong,
        "dropped": cut["dropped"],
    }
    parts = [
        f"{k} of {n} {side}s ({100 * k / n:.1f}%) are longer than data.{side}_length={length}"
        for side, k, length in (
            ("input", cut["inputs"], data.input_length),
            ("target", cut["targets"], data.target_length),
        )
        if k
    ]
    if parts:
        action = (
            f"{cut['dropped']} examples were left out (data.overlong=drop)"
            if data.overlong == "drop"
            else "they were cut, so the model never sees their ends (a cut chain of thought loses its "
            "answer); set data.overlong=drop to leave them out"
        )
        report["warning"] = f"{'; '.join(parts)}: {action}, or raise the lengths."
    return report


class BatchPlan:
    """Which rows every step trains on; epochs reshuffle rows with `seed + epoch`."""

    def __init__(self, pairs: list[Pair], data: DataSection, rows_per_step: int):
        if not pairs:
            raise DataError("no training examples: check the mixture, train_file or text_files")
        self.pairs, self.data, self.rows_per_step = pairs, data, rows_per_step
        self.packed = pack_rows(pairs, data.input_length, data.target_length) if data.pack else None
        count = len(self.packed) if self.packed is not None else len(pairs)
        self.steps_per_epoch = count // rows_per_step
        if self.steps_per_epoch == 0:
            raise DataError(
                f"only {count} rows of data but one step needs {rows_per_step} (batch_size x grad_accum x "
                "processes): add examples or lower train.batch_size"
            )
        self._epoch, self._order = -1, []

    @property
    def num_rows(self) -> int:
        return len(self.packed) if self.packed is not None else len(self.pairs)

    def _epoch_rows(self, epoch: int) -> list[list[int]]:
        if epoch != self._epoch:
            seed = self.data.seed * 1_000_003 + epoch
            if self.packed is None:
                self._order = length_grouped_rows(self.pairs, self.rows_per_step, seed)
            elif self.data.group_packed:
                self._order = fill_grouped_rows(self.pairs, self.packed, self.rows_per_step, seed)
            else:
                order = list(range(len(self.packed)))
                random.Random(seed).shuffle(order)
                self._order = [self.packed[i] for i in order]
            self._epoch = epoch
        return self._order

    def step_rows(self, step: int) -> list[list[int]]:
        """All rows of the global batch of 0-based `step`."""
        epoch, offset = divmod(step, self.steps_per_epoch)
        rows = self._epoch_rows(epoch)
        return rows[offset * self.rows_per_step : (offset + 1) * self.rows_per_step]


def shard(rows: list[list[int]], rank: int, world: int, batch_size: int) -> list[list[list[int]]]:
    """This process's micro-batches of a global batch (see the module docstring)."""
    micro = len(rows) // (batch_size * world)
    return [rows[(m * world + rank) * batch_size : (m * world + rank + 1) * batch_size] for m in range(micro)]


def rows_weight(pairs: list[Pair], rows: list[list[int]], normalization: str) -> float:
    """Loss denominator of rows: target tokens (`token`) or examples (`sequence`)."""
    if normalization == "sequence":
        return float(sum(len(r) for r in rows))
    return float(sum(len(pairs[i][1]) for r in rows for i in r))
