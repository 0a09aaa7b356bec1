"""flankit.data: the FLAN data recipe (tasks, templates, mixtures, evaluation sets).

Submodules: `tasks` (catalog and Task specs), `sources` (builtin / local files / Hugging Face),
`builtin` (offline generators), `templates` (phrasings, options, few-shot, CoT), `mixture`
(rates, caps, formats, streaming sampler), `evalsets` (rendered evaluation items), `stats`.
`corpus_text(num_examples, seed)` yields rendered text of the builtin mixture for tokenizer
training. Imports are lazy so `import flankit.data` stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = [
    "corpus_text",
    "eval_examples",
    "get_task",
    "list_tasks",
    "load_mixture",
    "templates_for",
    "to_dataset",
]


def corpus_text(num_examples: int, seed: int = 0) -> Iterator[str]:
    """Rendered inputs and targets (two strings per example) of the `builtin` mixture."""
    from flankit.data.mixture import corpus_text as _corpus

    return _corpus(num_examples, seed)


def __getattr__(name: str):
    if name in ("get_task", "list_tasks"):
        from flankit.data import tasks

        return getattr(tasks, name)
    if name in ("load_mixture", "to_dataset"):
        from flankit.data import mixture

        return getattr(mixture, name)
    if name == "templates_for":
        from flankit.data.templates import templates_for

        return templates_for
    if name == "eval_examples":
        from flankit.data.evalsets import eval_examples

        return eval_examples
    raise AttributeError(f"module 'flankit.data' has no attribute {name!r}")
