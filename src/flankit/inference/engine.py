"""The inference engine: one API over three backends (native T5, CTranslate2, transformers).

Usage:

    from flankit import Engine
    engine = Engine.from_pretrained("out/model", backend="native", dtype="int8")
    engine.generate(["Translate to German: hello"], max_new_tokens=20)      # -> [Generation]
    engine.generate(prompts, allowed_outputs=["yes", "no"])                # trie-constrained
    engine.classify(["Is the sky blue? yes or no"], ["yes", "no"])        # -> [Choice]

`native` runs flankit's own T5 (fp32, bf16, or int8 weight quantization) with length-sorted
batching and shared-encoder scoring; `hf` runs transformers' `T5ForConditionalGeneration`
(the reference); `ctranslate2` runs a model exported with `flankit export ctranslate2`.
Prompts longer than `max_input_tokens` raise `InputTooLongError` unless `truncate=True`, which
warns with the number of tokens cut: inputs are never truncated silently.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from flankit.errors import ConfigError, FlankitError, InputTooLongError, ModelError, UnknownNameError
from flankit.registry import suggest

BACKENDS = ("native", "ctranslate2", "hf")
ENGINE_DTYPES = ("fp32", "bf16", "int8")
NORMALIZE = ("mean", "sum")


@dataclass
class GenerationConfig:
    """Decoding settings, with transformers' field names and defaults (except max_new_tokens)."""

    max_new_tokens: int = 64
    min_new_tokens: int = 0
    num_beams: int = 1
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    num_return_sequences: int = 1
    length_penalty: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None

    def replace(self, **overrides) -> GenerationConfig:
        """A copy with `overrides` applied; unknown names raise ConfigError with a suggestion."""
        names = [f.name for f in dataclasses.fields(self)]
        for key in overrides:
            if key not in names:
                raise ConfigError(
                    f"Unknown generation option {key!r}.{suggest(key, names)} Valid: {', '.join(names)}."
                )
        return dataclasses.replace(self, **overrides).validate()

    def validate(self) -> GenerationConfig:
        checks = [
            (self.max_new_tokens >= 1, "max_new_tokens must be >= 1"),
            (
                0 <= self.min_new_tokens <= self.max_new_tokens,
                "min_new_tokens must be between 0 and max_new_tokens",
            ),
            (1 <= self.num_beams <= 8, "num_beams must be between 1 and 8"),
            (
                not (self.do_sample and self.num_beams > 1),
                "do_sample with num_beams > 1 is not supported; pick one",
            ),
            (self.temperature > 0, "temperature must be > 0 (use do_sample=False for greedy)"),
            (self.top_k >= 0, "top_k must be >= 0 (0 disables it)"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (self.repetition_penalty > 0, "repetition_penalty must be > 0 (1.0 disables it)"),
            (self.no_repeat_ngram_size >= 0, "no_repeat_ngram_size must be >= 0"),
            (self.num_return_sequences >= 1, "num_return_sequences must be >= 1"),
            (
                self.num_return_sequences <= max(self.num_beams, 1) or self.do_sample,
                "num_return_sequences > 1 needs do_sample=True or num_beams >= num_return_sequences",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"Invalid generation config: {message}.")
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        return self


class Generation(str):
    """Generated text (a `str`), with `.token_ids`, `.finish_reason` and `.sequences`."""

    token_ids: list[int]
    finish_reason: str
    sequences: list[str]

    def __new__(cls, text: str, token_ids: list[int], finish_reason: str, sequences: list[str] | None = None):
        obj = super().__new__(cls, text)
        obj.token_ids, obj.finish_reason = token_ids, finish_reason
        obj.sequences = sequences if sequences is not None else [text]
        return obj

    @property
    def text(self) -> str:
        return str.__str__(self)


@dataclass
class Choice:
    """Rank-classification result: chosen option, its index, and per-option scores/probabilities."""

    choice: str
    index: int
    scores: dict[str, float]  # option -> log-likelihood (summed or per-token mean, per `normalize`)
    probs: dict[str, float]  # option -> softmax of the scores over the options

    def __str__(self) -> str:
        return self.choice


def _check_options(options: list[str], where: str) -> list[str]:
    if not options:
        raise FlankitError(
            f"{where}: options are empty; pass at least two answer strings, e.g. ['yes', 'no']."
        )
    bad = [o for o in options if not isinstance(o, str) or not o.strip()]
    if bad:
        raise FlankitError(f"{where}: every option must be a non-empty string (got {bad[0]!r}).")
    dupes = sorted({o for o in options if options.count(o) > 1})
    if dupes:
        raise FlankitError(f"{where}: options contain duplicates {dupes}; each answer must appear once.")
    return list(options)


class Engine:
    """Generation and rank classification over a backend; build with `Engine.from_pretrained`."""

    def __init__(self, backend, tokenizer, max_input_tokens: int = 512):
        self.backend = backend
        self.tokenizer = tokenizer
        self.max_input_tokens = max_input_tokens

    @classmethod
    def from_pretrained(
        cls, path: str | Path, backend: str = "native", dtype: str = "fp32", max_input_tokens: int = 512
    ) -> Engine:
        """Load a model folder (Hugging Face T5 layout, or a CTranslate2 export for `ctranslate2`).

        Args:
            path: model folder with config.json + weights + tokenizer files.
            backend: "native" (flankit's T5), "ctranslate2", or "hf" (transformers reference).
            dtype: "fp32", "bf16" or "int8" (int8 = weight-only quantized Linear layers).
            max_input_tokens: longest prompt accepted (in tokens, EOS included).
        """
        if backend not in BACKENDS:
            raise UnknownNameError(
                f"Unknown backend {backend!r}.{suggest(backend, list(BACKENDS))} Use one of {', '.join(BACKENDS)}."
            )
        if dtype not in ENGINE_DTYPES:
            hint = (
                " fp16 overflows in T5's feed-forward; use bf16."
                if str(dtype).lower() in ("fp16", "float16", "half")
                else ""
            )
            raise UnknownNameError(f"Unknown dtype {dtype!r}.{hint} Use one of {', '.join(ENGINE_DTYPES)}.")
        from flankit.inference import backends
        from flankit.modeling.load import load_tokenizer, resolve_path

        folder = resolve_path(path)
        tokenizer = load_tokenizer(folder)
        _check_vocab(folder, tokenizer)
        impl = {
            "native": backends.NativeBackend,
            "hf": backends.HFBackend,
            "ctranslate2": backends.CT2Backend,
        }[backend]
        return cls(impl(folder, dtype), tokenizer, max_input_tokens)

    # ----- tokens -------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Number of input tokens for `text`, EOS included (what counts against the budget)."""
        return len(self.tokenizer(text).input_ids)

    def encode_prompts(self, prompts: list[str], truncate: bool = False) -> list[list[int]]:
        """Token ids per prompt; empty prompts and over-long prompts (unless `truncate`) raise."""
        if isinstance(prompts, str):
            raise FlankitError("prompts must be a list of strings; wrap a single prompt as [prompt].")
        for i, p in enumerate(prompts):
            if not isinstance(p, str) or not p.strip():
                raise FlankitError(f"prompt {i} is empty; every prompt needs some text.")
        ids = self.tokenizer(list(prompts)).input_ids if prompts else []
        out = []
        for i, seq in enumerate(ids):
            extra = len(seq) - self.max_input_tokens
            if extra > 0 and not truncate:
                raise InputTooLongError(
                    f"prompt {i} has {len(seq)} tokens, over the {self.max_input_tokens}-token budget. Shorten it, "
                    "use flankit.inference.long_input for long documents, or pass truncate=True to cut the end."
                )
            if extra > 0:
                warnings.warn(
                    f"prompt {i}: truncated {extra} tokens to fit {self.max_input_tokens}", stacklevel=3
                )
                seq = seq[: self.max_input_tokens - 1] + [self.tokenizer.eos_token_id]
            out.append(seq)
        return out

    def _allowed_ids(self, allowed_outputs: list[str]) -> list[list[int]]:
        return self.tokenizer(_check_options(list(allowed_outputs), "allowed_outputs")).input_ids

    # ----- generation ---------------------------------------------------------------------
    def generate(
        self,
        prompts: list[str],
        config: GenerationConfig | None = None,
        *,
        truncate: bool = False,
        allowed_outputs: list[str] | None = None,
        **overrides,
    ) -> list[Generation]:
        """Generate a continuation per prompt, in input order.

        Args:
            prompts: input texts.
            config: decoding settings; keyword `overrides` replace single fields.
            truncate: cut over-long prompts (with a warning) instead of raising.
            allowed_outputs: restrict outputs to exactly one of these strings (token-trie constraint).
        """
        cfg = (config or GenerationConfig()).replace(**overrides)
        ids = self.encode_prompts(prompts, truncate)
        allowed = self._allowed_ids(allowed_outputs) if allowed_outputs is not None else None
        results = self.generate_ids(ids, cfg, allowed=allowed)
        return [self._to_generation(res, cfg.stop) for res in results]

    def generate_ids(
        self,
        prompts: list[list[int]],
        config: GenerationConfig | None = None,
        *,
        allowed: list[list[int]] | None = None,
    ):
        """Token-level generation: prompt ids in, per prompt a list of `DecodeResult` out."""
        cfg = (config or GenerationConfig()).validate()
        if not prompts:
            return []
        return self.backend.generate_ids(prompts, cfg, allowed, self.tokenizer)

    def _to_generation(self, results, stops: list[str]) -> Generation:
        texts = [self._text(r.token_ids, r.finish_reason, stops) for r in results]
        best = results[0]
        return Generation(texts[0][0], best.token_ids, texts[0][1], [t for t, _ in texts])

    def _text(self, token_ids: list[int], reason: str, stops: list[str]) -> tuple[str, str]:
        """Decoded text, cut before the first stop string (which then sets the reason to "stop")."""
        text = self.tokenizer.decode(token_ids, skip_special_tokens=True)
        cut = min((text.find(s) for s in stops if s in text), default=-1)
        return (text[:cut], "stop") if cut >= 0 else (text, reason)

    # ----- rank classification ------------------------------------------------------------
    def classify(
        self,
        prompts: list[str],
        options: list[str] | list[list[str]],
        normalize: str = "mean",
        *,
        truncate: bool = False,
    ) -> list[Choice]:
        """Pick, per prompt, the option the model finds most likely.

        Args:
            prompts: input texts.
            options: one list shared by all prompts, or one list per prompt.
            normalize: "mean" (per-token log-likelihood, length-normalised) or "sum".
            truncate: cut over-long prompts (with a warning) instead of raising.
        """
        if normalize not in NORMALIZE:
            raise ConfigError(f"normalize must be one of {', '.join(NORMALIZE)} (got {normalize!r}).")
        if options and all(isinstance(o, (list, tuple)) for o in options):
            if len(options) != len(prompts):
                raise FlankitError(
                    f"got {len(options)} option lists for {len(prompts)} prompts; pass one list per prompt."
                )
            per_prompt = [_check_options(list(o), f"options of prompt {i}") for i, o in enumerate(options)]
        else:
            shared = _check_options(list(options), "options")
            per_prompt = [shared] * len(prompts)
        ids = self.encode_prompts(prompts, truncate)
        if not ids:
            return []
        vocab = {
            o: seq for o in {o for opts in per_prompt for o in opts} for seq in [self.tokenizer(o).input_ids]
        }
        scored = self.backend.score(ids, [[vocab[o] for o in opts] for opts in per_prompt], self.tokenizer)
        return [_choose(opts, sums, normalize) for opts, sums in zip(per_prompt, scored, strict=True)]


def _choose(options: list[str], sums: list[tuple[float, int]], normalize: str) -> Choice:
    scores = [s / n if normalize == "mean" else s for s, n in sums]
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    total = sum(weights)
    best = scores.index(top)
    return Choice(
        options[best],
        best,
        dict(zip(options, scores, strict=True)),
        {o: w / total for o, w in zip(options, weights, strict=True)},
    )


def _check_vocab(folder: Path, tokenizer) -> None:
    """Refuse a tokenizer with ids beyond the model's embeddings (files from different models)."""
    import json

    cfg = Path(folder) / "config.json"
    if not cfg.is_file():  # a CTranslate2 export keeps its vocabulary in its own files
        return
    try:
        vocab = int(json.loads(cfg.read_text(encoding="utf-8")).get("vocab_size", 0))
    except (ValueError, TypeError, AttributeError):
        return  # a malformed config is reported by the model loader with its own message
    if vocab and len(tokenizer) > vocab:
        raise ModelError(
            f"{folder}: the tokenizer has {len(tokenizer)} tokens but the model only {vocab} embeddings, "
            "so they do not belong together. Save the model's own tokenizer next to its weights."
        )
