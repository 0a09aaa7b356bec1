"""Self-check: ask the model whether an answer is consistent with the passage it came from.

What: renders the registry's `self_check` prompt (passage, question, proposed answer) and
rank-classifies "yes" vs "no" with `engine.classify`, so the verdict costs one encoder pass
and two short option scores; the verdict is returned next to the answer, never replacing it.

How:
    check = self_check(engine, passage, "Who wrote it?", "Ada")
    check.answer, check.consistent, check.confidence

Refs: SelfCheckGPT (Manakul et al. 2023) and "Language models (mostly) know what they know"
(Kadavath et al. 2022) motivate asking the model to verify its own output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flankit.errors import ConfigError
from flankit.inference.prompting import PromptRegistry, default_registry


@dataclass(frozen=True)
class SelfCheck:
    """An answer with the model's verdict on it.

    `confidence` is the model's probability that the answer is consistent (of "yes").
    """

    answer: str
    consistent: bool
    verdict: str
    confidence: float
    prompt: str


def self_check_many(
    engine,
    items: Sequence[tuple[str, str, str]],
    *,
    prompt: str = "self_check",
    registry: PromptRegistry | None = None,
    options: tuple[str, str] = ("yes", "no"),
) -> list[SelfCheck]:
    """Self-check several (passage, question, answer) triples in one classify call.

    Args:
        engine: object with `classify(prompts, options)` (the Engine API).
        items: (passage, question, answer) triples.
        prompt: name of a registry template with fields passage, question and answer.
        registry: where `prompt` lives (the packaged default registry when None).
        options: the (consistent, inconsistent) verdict words scored by the model.
    """
    if len(options) != 2 or options[0] == options[1]:
        raise ConfigError(f"self_check options must be two different words, got {options!r}")
    template = (registry or default_registry()).get(prompt)
    prompts = []
    for passage, question, answer in items:
        if not str(passage).strip():
            raise ConfigError("self_check needs a non-empty passage to check the answer against")
        prompts.append(template.render(passage=passage, question=question, answer=answer))
    if not prompts:
        return []
    choices = engine.classify(prompts, list(options))
    return [
        SelfCheck(
            answer=item[2],
            consistent=choice.choice == options[0],
            verdict=choice.choice,
            confidence=float(choice.probs[options[0]]),
            prompt=text,
        )
        for item, choice, text in zip(items, choices, prompts, strict=True)
    ]


def self_check(engine, passage: str, question: str, answer: str, **kwargs) -> SelfCheck:
    """Self-check one answer; keyword arguments as in `self_check_many`."""
    return self_check_many(engine, [(passage, question, answer)], **kwargs)[0]
