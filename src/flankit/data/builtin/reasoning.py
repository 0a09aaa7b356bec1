"""Builtin reasoning generators: arithmetic word problems, boolean logic, date arithmetic, string ops.

Arithmetic, boolean logic and dates carry a step-by-step `rationale` (used by chain-of-thought
templates) next to the final `answer`. All problems and wording written for flankit.
"""

from __future__ import annotations

import datetime as dt
import random

from flankit.data.builtin import register
from flankit.data.builtin.words import COMMON_WORDS, FEMALE, NAMES, RELATIVES, word_list

COUNTABLES = (
    "apples",
    "marbles",
    "stickers",
    "cookies",
    "pencils",
    "stamps",
    "shells",
    "cards",
    "eggs",
    "candles",
    "buttons",
    "beads",
    "coins",
    "tulips",
    "comic books",
    "seashells",
    "muffins",
)
PRICED = word_list("notebook bagel ticket plant scarf mug poster candle kite puzzle")


def _word_problem(rng: random.Random, name: str, p: str, things: str) -> tuple[str, str, int]:
    kind = rng.randrange(5)
    if kind == 0:
        a, b = rng.randrange(5, 60), rng.randrange(2, 30)
        c = rng.randrange(1, a + b)
        r = a + b - c
        q = (
            f"{name} has {a} {things}. {p.capitalize()} gets {b} more and then gives {c} to "
            f"{rng.choice(RELATIVES)}. How many {things} does {name} have now?"
        )
        why = (
            f"{name} starts with {a} {things}. After getting {b} more, {p} has {a} + {b} = {a + b}. "
            f"After giving away {c}, {p} has {a + b} - {c} = {r}."
        )
    elif kind == 1:
        a, b = rng.randrange(2, 12), rng.randrange(3, 15)
        c = rng.randrange(1, a * b)
        r = a * b - c
        q = (
            f"{name} buys {a} boxes of {things}, and each box holds {b}. {p.capitalize()} uses {c} of them. "
            f"How many {things} are left?"
        )
        why = f"{a} boxes of {b} make {a} x {b} = {a * b} {things}. Using {c} leaves {a * b} - {c} = {r}."
    elif kind == 2:
        item, other = rng.sample(PRICED, 2)
        a, b, k = rng.randrange(2, 20), rng.randrange(1, 15), rng.randrange(2, 7)
        r = k * a + b
        q = (
            f"A {item} costs ${a} and a {other} costs ${b}. {name} buys {k} of the {item}s and one {other}. "
            f"How many dollars does {p} spend?"
        )
        why = f"{k} {item}s cost {k} x {a} = {k * a} dollars. Adding the {other} gives {k * a} + {b} = {r}."
    elif kind == 3:
        k, a, c = rng.randrange(2, 9), rng.randrange(2, 12), rng.randrange(1, 10)
        r = a + c
        q = (
            f"{name} shares {a * k} {things} equally among {k} friends. Later each friend is given {c} more. "
            f"How many {things} does each friend have?"
        )
        why = f"Each friend first gets {a * k} / {k} = {a}. With {c} more, each has {a} + {c} = {r}."
    else:
        a, d = rng.randrange(5, 40), rng.randrange(2, 9)
        total = a * d + rng.randrange(1, 200)
        r = total - a * d
        q = (
            f"{name} reads {a} pages of a {total}-page book every day. After {d} days, how many pages "
            f"are still unread?"
        )
        why = f"In {d} days {p} reads {a} x {d} = {a * d} pages. That leaves {total} - {a * d} = {r} pages."
    return q, why, r


@register("arithmetic")
def arithmetic(rng: random.Random) -> dict:
    name = rng.choice(NAMES)
    q, why, r = _word_problem(rng, name, "she" if name in FEMALE else "he", rng.choice(COUNTABLES))
    return {"question": q, "rationale": why, "answer": str(r)}


# ---------------------------------------------------------------- boolean logic
def _bool_expr(rng: random.Random, leaves: int) -> tuple:
    """A random expression tree over `leaves` literals; `not` wraps some nodes."""
    if leaves == 1:
        node: tuple = (rng.random() < 0.5,)
    else:
        left = 1 + int(rng.random() * (leaves - 1))
        node = ("and" if rng.random() < 0.5 else "or", _bool_expr(rng, left), _bool_expr(rng, leaves - left))
    return ("not", node) if rng.random() < 0.15 else node


def _show(node: tuple, top: bool = False) -> str:
    if len(node) == 1:
        return str(node[0])
    if node[0] == "not":
        return f"not {_show(node[1])}"
    text = f"{_show(node[1])} {node[0]} {_show(node[2])}"
    return text if top else f"( {text} )"


def _evaluate(node: tuple, steps: list[str]) -> bool:
    if len(node) == 1:
        return node[0]
    if node[0] == "not":
        v = not _evaluate(node[1], steps)
        steps.append(f"not {not v} is {v}.")
        return v
    a, b = _evaluate(node[1], steps), _evaluate(node[2], steps)
    v = (a and b) if node[0] == "and" else (a or b)
    steps.append(f"{a} {node[0]} {b} is {v}.")
    return v


@register("boolean_logic")
def boolean_logic(rng: random.Random) -> dict:
    node = _bool_expr(rng, 3 + int(rng.random() * 3))
    steps: list[str] = []
    value = _evaluate(node, steps)
    return {"expression": _show(node, top=True), "rationale": " ".join(steps), "answer": str(value)}


# ---------------------------------------------------------------- dates
MONTHS = word_list("January February March April May June July August September October November December")
EVENTS = (
    "birthday party",
    "job interview",
    "dentist appointment",
    "piano recital",
    "book club meeting",
    "flight",
    "wedding",
    "exam",
    "garden party",
    "house move",
)
_FIRST, _LAST = dt.date(1960, 1, 1).toordinal(), dt.date(2035, 12, 31).toordinal()


def _fmt(d: dt.date) -> str:
    return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"


@register("date_arithmetic")
def date_arithmetic(rng: random.Random) -> dict:
    start = dt.date.fromordinal(rng.randrange(_FIRST, _LAST))
    days = rng.randrange(2, 70)
    sign = 1 if rng.random() < 0.6 else -1
    end = start + dt.timedelta(days=sign * days)
    word = "after" if sign > 0 else "before"
    name, event = rng.choice(NAMES), rng.choice(EVENTS)
    weeks, rest = divmod(days, 7)
    q = (
        f"What is the date {days} days {word} {_fmt(start)}?",
        f"{name}'s {event} is on {_fmt(start)}. Something else is planned {days} days {word} it. What date is that?",
        f"Today is {_fmt(start)}. "
        + (f"What will the date be in {days} days?" if sign > 0 else f"What was the date {days} days ago?"),
        f"If you count {days} days {word} {_fmt(start)}, which date do you reach?",
    )[rng.randrange(4)]
    wk = f"{weeks} week{'s' if weeks > 1 else ''}"
    if weeks and rest:
        mid = start + dt.timedelta(days=sign * 7 * weeks)
        why = (
            f"{days} days is {wk} and {rest} day{'s' if rest > 1 else ''}. {wk.capitalize()} {word} {_fmt(start)} "
            f"is {_fmt(mid)}. Another {rest} day{'s' if rest > 1 else ''} {word} that is {_fmt(end)}."
        )
    elif weeks:
        why = f"{days} days is exactly {wk}. {wk.capitalize()} {word} {_fmt(start)} is {_fmt(end)}."
    else:
        why = f"Counting {days} days {word} {_fmt(start)} lands on {_fmt(end)}."
    return {"question": q, "rationale": why, "answer": _fmt(end)}


# ---------------------------------------------------------------- string manipulation
def _acronym(ws: list[str]) -> str:
    return "".join(w[0] for w in ws).upper()


STRING_OPS = (
    ("reverse the order of the words", lambda ws: " ".join(reversed(ws))),
    ("sort the words alphabetically", lambda ws: " ".join(sorted(ws))),
    ("rewrite the words in capital letters", lambda ws: " ".join(ws).upper()),
    ("count how many words there are", lambda ws: str(len(ws))),
    ("join the first letter of every word into one capitalised word", _acronym),
    ("give the last word", lambda ws: ws[-1]),
    ("spell the first word backwards", lambda ws: ws[0][::-1]),
    ("count the letters in the longest word", lambda ws: str(max(len(w) for w in ws))),
    ("repeat the words, putting a comma between them", lambda ws: ", ".join(ws)),
    ("find the word that comes first in alphabetical order", lambda ws: min(ws)),
)


@register("string_ops")
def string_ops(rng: random.Random) -> dict:
    instruction, fn = rng.choice(STRING_OPS)
    words = rng.sample(COMMON_WORDS, rng.randrange(3, 7))
    return {"instruction": instruction, "text": " ".join(words), "answer": fn(words)}
