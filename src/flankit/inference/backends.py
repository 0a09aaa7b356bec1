"""Engine backends: native (flankit T5), hf (transformers reference), ctranslate2 (exported model).

Each backend offers the same two token-level calls, used by `flankit.inference.engine.Engine`:

* `generate_ids(prompts, cfg, allowed, tokenizer) -> list[list[DecodeResult]]`
* `score(prompts, options, tokenizer) -> list[list[(summed log-likelihood, n_tokens)]]`

Only `native` implements length-sorted token-budget batching, finished-row dropping, the
shared-encoder scorer and trie constraints itself; `hf` and `ctranslate2` call their
libraries as a typical user does (`hf` batches 16 prompts in input order).
"""

from __future__ import annotations

from pathlib import Path

import torch

from flankit.errors import ModelError
from flankit.inference.decoding import DecodeResult, StopChecker, TokenTrie, generate, pad_ids
from flankit.inference.scoring import score_options

HF_BATCH = 16


def _decoder(tokenizer):
    return lambda ids: tokenizer.decode(ids, skip_special_tokens=True)


def _trim(ids: list[int], eos: int, pad: int) -> DecodeResult:
    """Generated ids -> result without EOS/padding; reason 'stop' when EOS was produced."""
    if eos in ids:
        return DecodeResult([t for t in ids[: ids.index(eos)] if t != pad], "stop")
    return DecodeResult([t for t in ids if t != pad], "length")


class NativeBackend:
    """flankit's T5 with preallocated-cache decoding.

    dtypes: `fp32`; `bf16` (weights and activations bf16: on CPUs with AVX512-BF16, like this
    project's benchmark machine, the matmuls run natively, otherwise they are emulated and
    slower than fp32); `int8` (int8 weights with fp32 activations via dynamic quantization,
    and the cross-attention K/V cache in bf16, which halves the memory every step reads).
    Projections are fused (q/k/v, cross k/v, wi_0/wi_1) once at load.
    """

    name = "native"

    def __init__(self, folder: Path, dtype: str, token_budget: int = 16384, max_batch: int = 64):
        from flankit.modeling.t5 import T5

        self.model = T5.from_pretrained(folder, dtype=torch.bfloat16 if dtype == "bf16" else torch.float32)
        self.model.fuse_projections()
        if dtype == "int8":
            from flankit.modeling.quantize import quantize_int8

            quantize_int8(self.model)
            self.model.cross_cache_dtype = torch.bfloat16
            self.model.use_fused_kernels()
            self._warm_up()
        self.token_budget, self.max_batch = token_budget, max_batch

    @torch.inference_mode()
    def _warm_up(self) -> None:
        """Compile the fused kernels now rather than inside the first (user-facing) call.

        Two rows and three steps under `kernels.compiling()`: sizes 0 and 1 get code of their
        own, so this compiles the general code for any batch size and cache length (a one-row
        batch compiles its own on first use).
        """
        from flankit.modeling import kernels

        ids, mask = pad_ids([[5, 6, 1], [7, 1]], self.model.config.pad_token_id)
        with kernels.compiling():
            state = self.model.start_decoding(self.model.encode(ids, mask), mask, max_length=3)
            for _ in range(3):
                self.model.decode_step(state, torch.zeros(2, dtype=torch.long))

    def generate_ids(self, prompts, cfg, allowed, tokenizer):
        trie = TokenTrie(allowed) if allowed is not None else None
        stop = StopChecker(cfg.stop, _decoder(tokenizer)) if cfg.stop else None
        return generate(
            self.model,
            prompts,
            cfg,
            trie=trie,
            stop=stop,
            token_budget=self.token_budget,
            max_batch=self.max_batch,
        )

    def score(self, prompts, options, tokenizer):
        return score_options(self.model, prompts, options, self.token_budget, self.max_batch)


class HFBackend:
    """transformers' T5ForConditionalGeneration, used as the reference implementation."""

    name = "hf"

    def __init__(self, folder: Path, dtype: str):
        from transformers import T5ForConditionalGeneration

        if dtype == "int8":
            raise ModelError(
                "the hf backend runs fp32 or bf16; use backend='native' or 'ctranslate2' for int8."
            )
        torch_dtype = torch.bfloat16 if dtype == "bf16" else torch.float32
        self.model = T5ForConditionalGeneration.from_pretrained(str(folder), dtype=torch_dtype).eval()

    def generate_ids(self, prompts, cfg, allowed, tokenizer):
        c = self.model.config
        kwargs = dict(
            max_new_tokens=cfg.max_new_tokens,
            min_new_tokens=cfg.min_new_tokens,
            num_beams=cfg.num_beams,
            do_sample=cfg.do_sample,
            repetition_penalty=cfg.repetition_penalty,
            no_repeat_ngram_size=cfg.no_repeat_ngram_size,
            num_return_sequences=cfg.num_return_sequences,
            length_penalty=cfg.length_penalty,
        )
        if cfg.do_sample:
            kwargs.update(temperature=cfg.temperature, top_k=cfg.top_k or None, top_p=cfg.top_p)
            if cfg.seed is not None:
                torch.manual_seed(cfg.seed)
        if cfg.stop:
            kwargs.update(stop_strings=list(cfg.stop), tokenizer=tokenizer)
        if allowed is not None:
            trie = TokenTrie(allowed)

            def allowed_next(_row, prefix):
                node = trie.root
                for tok in prefix.tolist()[1:]:
                    node = node.get(tok, {})
                return list(node) or [c.pad_token_id]

            kwargs["prefix_allowed_tokens_fn"] = allowed_next
        out: list[list[DecodeResult]] = []
        n = cfg.num_return_sequences
        for start in range(0, len(prompts), HF_BATCH):
            ids, mask = pad_ids(prompts[start : start + HF_BATCH], c.pad_token_id)
            with torch.inference_mode():
                seqs = self.model.generate(input_ids=ids, attention_mask=mask, **kwargs)[:, 1:].tolist()
            res = [_trim(s, c.eos_token_id, c.pad_token_id) for s in seqs]
            out.extend(res[i : i + n] for i in range(0, len(res), n))
        return out

    def score(self, prompts, options, tokenizer):
        c = self.model.config
        out = []
        for prompt, opts in zip(prompts, options, strict=True):
            ids = torch.tensor([prompt] * len(opts))
            labels, lmask = pad_ids(opts, c.pad_token_id)
            with torch.inference_mode():
                logp = (
                    self.model(input_ids=ids, labels=labels.masked_fill(lmask == 0, -100))
                    .logits.float()
                    .log_softmax(-1)
                )
            tok = (logp.gather(2, labels[..., None]).squeeze(2) * lmask).double().sum(1).tolist()
            out.append([(s, len(o)) for s, o in zip(tok, opts, strict=True)])
        return out


class CT2Backend:
    """A CTranslate2 export (`flankit export ctranslate2`); classify uses its `score_batch`."""

    name = "ctranslate2"
    COMPUTE = {"fp32": "float32", "bf16": "bfloat16", "int8": "int8"}

    def __init__(self, folder: Path, dtype: str, threads: int | None = None):
        try:
            import ctranslate2
        except ImportError:
            raise ModelError("the ctranslate2 backend needs `pip install ctranslate2`.") from None
        if not (folder / "model.bin").is_file():
            raise ModelError(
                f"{folder} is not a CTranslate2 model (no model.bin). Convert it first: "
                f"flankit export ctranslate2 --model {folder} --out {folder}-ct2"
            )
        self.ct2 = ctranslate2
        self.translator = ctranslate2.Translator(
            str(folder),
            device="cpu",
            compute_type=self.COMPUTE[dtype],
            intra_threads=threads or torch.get_num_threads(),
        )

    def _tokens(self, tokenizer, seqs):
        return [tokenizer.convert_ids_to_tokens(list(s)) for s in seqs]

    def generate_ids(self, prompts, cfg, allowed, tokenizer):
        source = self._tokens(tokenizer, prompts)
        if allowed is not None:
            # no logits hook in CTranslate2: choose the allowed output with the highest likelihood
            scored = self.score(prompts, [allowed] * len(prompts), tokenizer)
            return [
                [DecodeResult(list(allowed[max(range(len(s)), key=lambda j: s[j][0])][:-1]), "stop")]
                for s in scored
            ]
        if cfg.seed is not None:
            self.ct2.set_random_seed(cfg.seed)
        results = self.translator.translate_batch(
            source,
            beam_size=cfg.num_beams,
            num_hypotheses=cfg.num_return_sequences,
            length_penalty=cfg.length_penalty,
            repetition_penalty=cfg.repetition_penalty,
            no_repeat_ngram_size=cfg.no_repeat_ngram_size,
            max_decoding_length=cfg.max_new_tokens,
            min_decoding_length=cfg.min_new_tokens,
            sampling_topk=(cfg.top_k if cfg.do_sample else 1),
            sampling_topp=cfg.top_p,
            sampling_temperature=cfg.temperature,
            return_end_token=True,
        )
        eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
        return [[_trim(tokenizer.convert_tokens_to_ids(h), eos, pad) for h in r.hypotheses] for r in results]

    def score(self, prompts, options, tokenizer):
        flat_src, flat_tgt = [], []
        for prompt, opts in zip(prompts, options, strict=True):
            for opt in opts:
                flat_src.append(prompt)
                flat_tgt.append(list(opt[:-1]))  # CTranslate2 appends and scores the end token itself
        res = self.translator.score_batch(
            self._tokens(tokenizer, flat_src), self._tokens(tokenizer, flat_tgt)
        )
        sums = iter(sum(r.log_probs) for r in res)
        return [[(next(sums), len(o)) for o in opts] for opts in options]
