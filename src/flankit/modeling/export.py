"""Export a T5 model folder to CTranslate2 (for `Engine.from_pretrained(..., backend="ctranslate2")`).

Uses CTranslate2's own transformers converter (`ctranslate2.converters.TransformersConverter`)
and copies the tokenizer files next to the converted model, so the output folder is
self-contained. Command line: `flankit export ctranslate2 --model DIR --out DIR [--quantization int8]`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from flankit.errors import ModelError

QUANTIZATIONS = ("float32", "bfloat16", "int8", "int8_float32", "int8_bfloat16")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "spiece.model")


def export_ctranslate2(
    model_dir: str | Path, out_dir: str | Path, quantization: str | None = None, force: bool = False
) -> Path:
    """Convert `model_dir` (Hugging Face T5 layout) into a CTranslate2 model folder `out_dir`."""
    try:
        from ctranslate2.converters import TransformersConverter
    except ImportError:
        raise ModelError("CTranslate2 export needs `pip install ctranslate2`.") from None
    src, out = Path(model_dir), Path(out_dir)
    if not (src / "config.json").is_file():
        raise ModelError(f"{src} is not a model folder (no config.json).")
    if quantization is not None and quantization not in QUANTIZATIONS:
        raise ModelError(f"Unknown quantization {quantization!r}; use one of {', '.join(QUANTIZATIONS)}.")
    if out.exists() and any(out.iterdir()) and not force:
        raise ModelError(f"{out} already exists and is not empty; pass --force to overwrite it.")
    try:
        TransformersConverter(str(src)).convert(str(out), quantization=quantization, force=True)
    except Exception as exc:  # the converter raises plain exceptions for unsupported checkpoints
        raise ModelError(f"CTranslate2 conversion of {src} failed: {exc}") from None
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy(src / name, out / name)
    return out
