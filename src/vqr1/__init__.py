"""vqr1: VisualQuality-R1 (reasoning IQA trained with GRPO and a ranking reward) and its workflow."""

import importlib
import logging
from typing import Any

__version__ = "0.1.0"
__all__ = ["load"]

# bitsandbytes (pulled in by pyiqa, imported by peft) warns on every import on AVX512-BF16 CPUs that it
# cannot fetch an optional kernel from the hub; we never use 4-bit kernels, so keep logs readable.
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)


def __getattr__(name: str) -> Any:
    """``vqr1.load`` (:func:`vqr1.inference.api.load`), imported on first use so ``import vqr1`` stays light
    and the pipeline stages, which never score through the API, do not load it."""
    if name == "load":
        return importlib.import_module("vqr1.inference.api").load
    raise AttributeError(f"module 'vqr1' has no attribute {name!r}")
