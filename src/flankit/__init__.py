"""flankit: FLAN-style instruction tuning and fast inference for encoder-decoder (T5) models.

Heavy objects are imported lazily so `import flankit` stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Engine", "GenerationConfig", "T5", "__version__"]


def __getattr__(name: str):
    if name == "T5":
        from flankit.modeling.t5 import T5

        return T5
    if name in ("Engine", "GenerationConfig"):
        from flankit.inference import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'flankit' has no attribute {name!r}")
