"""Features: turn (inputs, targets) text into model rows, packed or length-grouped.

How it works:

* `tokenize_pairs` runs the fast tokenizer over whole lists at once (it adds `</s>`) and
  `truncate` keeps the final `</s>` when a sequence is cut to the input/target length; over-long
  examples are counted, and cut or left out (a cut chain of thought loses its answer).
* `pack_rows` places examples greedily (first fit, in order, over a small window of open
  rows) so one row holds several examples up to `input_length` encoder and `target_length`
  decoder tokens. `collate` then writes segment ids (1, 2, ... per example, 0 on padding),
  shifts the decoder inputs right *per segment* (each example starts from the decoder start
  token) and puts -100 on label padding. flankit's T5 uses the segment ids so nothing
  attends across examples: a packed row gives each example the logits it gets alone.
* Without packing each row is one example; `length_grouped_rows` orders them so that the
  rows of one step have similar lengths (little padding) while the step order stays random.
  `fill_grouped_rows` does the same for packed rows by their target fill (optional: batches
  then mix fewer formats).

All ordering is deterministic for a seed. Reference: Raffel et al. 2020 (T5) packing; t5x /
seqio `trim_and_pack`.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence

import torch

Pair = tuple[list[int], list[int]]
IGNORE = -100


def truncate(ids: Sequence[int], length: int, eos_id: int = 1) -> list[int]:
    """Cut `ids` to `length` tokens, keeping a final `</s>` if the sequence had one."""
    ids = list(ids)
    if len(ids) <= length:
        return ids
    return ids[: length - 1] + [eos_id] if ids and ids[-1] == eos_id else ids[:length]


def tokenize_pairs(
    records: Iterable[dict],
    tokenizer,
    input_length: int,
    target_length: int,
    chunk: int = 2048,
    cut: Counter | None = None,
    overlong: str = "truncate",
) -> list[Pair]:
    """Tokenize `{"inputs", "targets"}` records in large batches and fit them to the lengths.

    An example longer than a length is truncated (`overlong="truncate"`) or left out
    (`"drop"`). With `cut`, add to its `inputs` and `targets` the number of sequences over
    their length, and to `dropped` the examples left out."""
    pairs: list[Pair] = []
    batch: list[dict] = []

    def flush() -> None:
        enc = tokenizer([r["inputs"] for r in batch], add_special_tokens=True)["input_ids"]
        dec = tokenizer([r["targets"] for r in batch], add_special_tokens=True)["input_ids"]
        eos = tokenizer.eos_token_id
        tally = cut if cut is not None else Counter()
        for x, y in zip(enc, dec, strict=True):
            long_x, long_y = len(x) > input_length, len(y) > target_length
            tally["inputs"] += long_x
            tally["targets"] += long_y
            if overlong == "drop" and (long_x or long_y):
                tally["dropped"] += 1
                continue
            pairs.append((truncate(x, input_length, eos), truncate(y, target_length, eos)))
        batch.clear()

    for rec in records:
        batch.append(rec)
        if len(batch) >= chunk:
            flush()
    if batch:
        flush()
    return pairs


def pack_rows(
    pairs: Sequence[Pair], input_length: int, target_length: int, window: int = 64
) -> list[list[int]]:
    """Greedy first-fit packing: a list of rows, each the indices of the examples it holds.

    Examples are taken in order; each goes into the first of the last `window` open rows
    where both its input and its target still fit, else it opens a new row. The window
    bounds the cost and keeps rows roughly in data order.
    """
    rows: list[list[int]] = []
    free: list[list[int]] = []  # per row [free input tokens, free target tokens]
    open_rows: list[int] = []
    for i, (x, y) in enumerate(pairs):
        nx, ny = min(len(x), input_length), min(len(y), target_length)
        for r in open_rows:
            if free[r][0] >= nx and free[r][1] >= ny:
                rows[r].append(i)
                free[r][0] -= nx
                free[r][1] -= ny
                break
        else:
            rows.append([i])
            free.append([input_length - nx, target_length - ny])
            open_rows.append(len(rows) - 1)
            if len(open_rows) > window:
                open_rows.pop(0)
        open_rows = [r for r in open_rows if free[r][0] > 0 and free[r][1] > 0]
    return rows


def grouped_order(lengths: Sequence[tuple[int, ...]], group: int, seed: int, mega: int = 50) -> list[int]:
    """A random order of items in which each consecutive `group` has similar `lengths`.

    Shuffle, cut into mega-batches of `group * mega`, sort each by length, split into groups
    and shuffle the groups: padding stays low and the step order stays random.
    """
    rnd = random.Random(seed)
    order = list(range(len(lengths)))
    rnd.shuffle(order)
    groups: list[list[int]] = []
    size = group * mega
    for start in range(0, len(order), size):
        chunk = sorted(order[start : start + size], key=lambda i: lengths[i])
        groups.extend(chunk[g : g + group] for g in range(0, len(chunk), group))
    rnd.shuffle(groups)
    return [i for g in groups for i in g]


def length_grouped_rows(pairs: Sequence[Pair], group: int, seed: int, mega: int = 50) -> list[list[int]]:
    """One example per row, ordered so each consecutive `group` of rows has similar lengths."""
    lengths = [(len(x), len(y)) for x, y in pairs]
    return [[i] for i in grouped_order(lengths, group, seed, mega)]


def fill_grouped_rows(
    pairs: Sequence[Pair], rows: Sequence[list[int]], group: int, seed: int, mega: int = 50
) -> list[list[int]]:
    """Packed rows ordered so each consecutive `group` has a similar target fill.

    The encoder side of packed rows is nearly full anyway; the decoder side holds anything
    from one class label to a chain of thought, and a batch pads to its fullest row.
    """
    fills = [(sum(len(pairs[i][1]) for i in row), sum(len(pairs[i][0]) for i in row)) for row in rows]
    return [rows[i] for i in grouped_order(fills, group, seed, mega)]


def _width(n: int, multiple: int) -> int:
    return max(multiple, -(-n // multiple) * multiple)


def collate(
    pairs: Sequence[Pair],
    rows: Sequence[Sequence[int]],
    *,
    pad_id: int = 0,
    start_id: int = 0,
    multiple: int = 8,
) -> dict[str, torch.Tensor]:
    """Build one batch from rows of example indices (one index per row when unpacked).

    Returns `input_ids`, `encoder_segment_ids`, `decoder_input_ids`, `decoder_segment_ids`
    and `labels` ([rows, width] each); widths are the longest row rounded up to `multiple`.
    """
    enc_w = _width(max(sum(len(pairs[i][0]) for i in row) for row in rows), multiple)
    dec_w = _width(max(sum(len(pairs[i][1]) for i in row) for row in rows), multiple)
    ids, eseg, dec, dseg, lab = [], [], [], [], []
    for row in rows:
        x_row, es_row, d_row, ds_row, l_row = [], [], [], [], []
        for s, i in enumerate(row, start=1):
            x, y = pairs[i]
            x_row += x
            es_row += [s] * len(x)
            d_row += [start_id, *y[:-1]]
            ds_row += [s] * len(y)
            l_row += y
        ids.append(x_row + [pad_id] * (enc_w - len(x_row)))
        eseg.append(es_row + [0] * (enc_w - len(es_row)))
        dec.append(d_row + [pad_id] * (dec_w - len(d_row)))
        dseg.append(ds_row + [0] * (dec_w - len(ds_row)))
        lab.append(l_row + [IGNORE] * (dec_w - len(l_row)))
    names = ("input_ids", "encoder_segment_ids", "decoder_input_ids", "decoder_segment_ids", "labels")
    return {
        k: torch.tensor(v, dtype=torch.long) for k, v in zip(names, (ids, eseg, dec, dseg, lab), strict=False)
    }


def real_tokens(pairs: Sequence[Pair], rows: Iterable[Sequence[int]]) -> int:
    """Non-padding input plus target tokens in the given rows."""
    return sum(len(pairs[i][0]) + len(pairs[i][1]) for row in rows for i in row)
