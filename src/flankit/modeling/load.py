"""Load models and tokenizers: local folders, hub ids (online only), and the `tiny` factory.

* `load_model("path/or/hub-id" | "tiny" | "small" | "base", dtype="fp32")`
* `load_tokenizer("path/or/hub-id")`
* `build_tiny(size, vocab_size, seed, embedding_std)`: a randomly initialised T5 of a named shape
  (`small`/`base` have the flan-t5-small/base shapes) for tests, benchmarks and the demo.
* `train_tokenizer(texts, out_dir, vocab_size)`: a sentencepiece unigram model with T5's
  conventions (pad 0, eos 1, unk 2, no bos, 100 `<extra_id_N>` sentinels with `<extra_id_0>`
  as the last id), saved so `transformers.AutoTokenizer.from_pretrained(out_dir)` loads it.

dtype policy: fp32 and bf16; fp16 is refused because T5's feed-forward activations overflow
fp16 (a known upstream problem that turns outputs into NaN/inf).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path

import torch

from flankit.errors import ModelError, OfflineError
from flankit.modeling.t5 import T5, T5Config

SIZES: dict[str, dict] = {
    # about 2M parameters (with a 2k vocabulary): the demo's and real_data's model before micro
    "mini": dict(
        d_model=128,
        d_kv=32,
        d_ff=384,
        num_layers=3,
        num_heads=4,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        dropout_rate=0.0,
    ),
    # a few million parameters: trains in minutes on two CPU cores
    "tiny": dict(
        d_model=256,
        d_kv=32,
        d_ff=640,
        num_layers=4,
        num_heads=8,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        dropout_rate=0.0,
    ),
    "small": dict(
        d_model=512,
        d_kv=64,
        d_ff=1024,
        num_layers=8,
        num_heads=6,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        dropout_rate=0.1,
    ),
    "base": dict(
        d_model=768,
        d_kv=64,
        d_ff=2048,
        num_layers=12,
        num_heads=12,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        dropout_rate=0.1,
    ),
}
# about 1.3M parameters (with a 2k vocabulary): the offline demo's model, mini with 2+2 layers
# and a narrower feed-forward, so its 1,350 steps fit 10 minutes on 2 AVX2 cores in fp32
SIZES["micro"] = {**SIZES["mini"], "num_layers": 2, "d_ff": 256}
DTYPES = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
FP16_NAMES = ("fp16", "float16", "half")
NUM_SENTINELS = 100


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    """Map a dtype name to torch; refuse fp16 with the reason."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        name = str(dtype).removeprefix("torch.")
    else:
        name = dtype.lower()
    if name in FP16_NAMES:
        raise ModelError(
            "fp16 is not supported for T5: its feed-forward activations overflow fp16 and produce "
            "inf/NaN. Use bf16 (same memory, wider range) or fp32."
        )
    if name not in DTYPES:
        raise ModelError(f"Unknown dtype {dtype!r}; use fp32 or bf16 (int8 is an engine option).")
    return DTYPES[name]


def tiny_config(size: str = "tiny", vocab_size: int = 32128, **overrides) -> T5Config:
    if size not in SIZES:
        raise ModelError(f"Unknown model size {size!r}; use one of {', '.join(SIZES)}.")
    return T5Config(vocab_size=vocab_size, **{**SIZES[size], **overrides})


def build_tiny(
    size: str = "tiny",
    vocab_size: int = 32128,
    seed: int = 0,
    embedding_std: float | None = None,
    **overrides,
) -> T5:
    """A randomly initialised T5 of a named shape, deterministic for a seed.

    T5 draws its input embeddings at std 1, a scale made for Adafactor, whose steps are relative
    to each weight's size. AdamW's steps are absolute (about the learning rate), so from scratch
    a std-1 embedding barely moves in a short run while the layers around it learn;
    `embedding_std` rescales the draw (the other weights stay as they are)."""
    cfg = tiny_config(size, vocab_size, **overrides)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = T5(cfg)
    if embedding_std is not None:
        with torch.no_grad():
            model.shared.weight.mul_(embedding_std)
    return model


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not os.path.exists(name)


def _hub_snapshot(name: str) -> Path:
    """Download (or find in the cache) a hub repository; offline gives a clear message."""
    try:
        from huggingface_hub import snapshot_download

        return Path(
            snapshot_download(name, allow_patterns=["*.json", "*.safetensors", "*.model", "*.bin", "*.txt"])
        )
    except Exception as exc:
        raise OfflineError(
            f"Cannot fetch {name!r} from the Hugging Face hub ({type(exc).__name__}). This machine may be "
            "offline: download the model elsewhere and pass its local folder, or use the offline default "
            "(`flankit demo`, or model 'tiny')."
        ) from None


def resolve_path(name_or_path: str | Path) -> Path:
    """A local folder for a path or hub id (hub only when online)."""
    name = str(name_or_path)
    if os.path.isdir(name):
        return Path(name)
    if _looks_like_hub_id(name) or ("/" not in name and name.startswith(("t5", "flan"))):
        return _hub_snapshot(name)
    raise ModelError(
        f"Model folder {name!r} does not exist (and it is not a hub id like 'google/flan-t5-small')."
    )


def load_model(
    name_or_path: str | Path,
    dtype: str | torch.dtype | None = "fp32",
    vocab_size: int = 32128,
    embedding_std: float | None = None,
) -> T5:
    """Load our T5 from a folder or hub id, or build one of the named random sizes (whose input
    embeddings `embedding_std` rescales; a trained model keeps its own)."""
    torch_dtype = resolve_dtype(dtype)
    if str(name_or_path) in SIZES:
        return build_tiny(str(name_or_path), vocab_size, embedding_std=embedding_std).to(torch_dtype).eval()
    if embedding_std is not None:
        raise ModelError(
            f"embedding_std sets the initial embeddings of a random size ({', '.join(SIZES)}); "
            f"{str(name_or_path)!r} is a trained model: leave it unset"
        )
    return T5.from_pretrained(resolve_path(name_or_path), dtype=torch_dtype)


def load_tokenizer(name_or_path: str | Path):
    """A transformers tokenizer from a folder or hub id."""
    from transformers import AutoTokenizer

    folder = resolve_path(name_or_path)
    if not any((folder / f).is_file() for f in ("tokenizer.json", "spiece.model", "tokenizer_config.json")):
        raise ModelError(
            f"{folder} has no tokenizer files (tokenizer.json or spiece.model); save one with the model."
        )
    try:
        return AutoTokenizer.from_pretrained(str(folder))
    except Exception as exc:
        raise ModelError(f"cannot load the tokenizer in {folder}: {exc}") from None


def train_tokenizer(texts: Iterable[str], out_dir: str | Path, vocab_size: int = 8000):
    """Train a sentencepiece unigram tokenizer with T5's conventions and save it to `out_dir`.

    `vocab_size` counts the 100 sentinels, as T5's 32,100 does. Returns the loaded tokenizer.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2
    from transformers import T5Tokenizer

    pieces = vocab_size - NUM_SENTINELS
    if pieces < 16:
        raise ModelError(
            f"vocab_size {vocab_size} is too small: it must exceed the {NUM_SENTINELS} sentinels by 16+"
        )
    buf = io.BytesIO()
    sentences = (t for t in texts if t and t.strip())
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=sentences,
            model_writer=buf,
            vocab_size=pieces,
            model_type="unigram",
            pad_id=0,
            eos_id=1,
            unk_id=2,
            bos_id=-1,
            pad_piece="<pad>",
            eos_piece="</s>",
            unk_piece="<unk>",
            character_coverage=1.0,
            num_threads=1,
            minloglevel=2,
            hard_vocab_limit=False,
            input_sentence_size=2_000_000,
            shuffle_input_sentence=False,
            max_sentence_length=8192,
        )
    except RuntimeError as exc:
        raise ModelError(
            f"tokenizer training failed: {exc}. Give more (or more varied) text, or a smaller vocab_size."
        ) from None
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(buf.getvalue())
    vocab = [(p.piece, p.score) for p in proto.pieces]
    vocab += [(f"<extra_id_{i}>", 0.0) for i in reversed(range(NUM_SENTINELS))]  # <extra_id_0> is the last id
    tok = T5Tokenizer(
        vocab=vocab,
        extra_ids=NUM_SENTINELS,
        _spm_precompiled_charsmap=proto.normalizer_spec.precompiled_charsmap,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(out))
    (out / "spiece.model").write_bytes(buf.getvalue())  # for tools that read sentencepiece directly
    return tok
