"""Params for tests that load the tiny model directly (no workspace): one synthetic set, float32."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vqr1.config import deep_merge


def tiny_model_params(model_dir: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    """A params mapping for the tiny model in ``model_dir`` at its own pixel limits, ``sections`` (e.g.
    ``evaluate={...}``) deep-merged over it; ``Params.model_validate`` it or write it as params.yaml."""
    base = {
        "data": {"datasets": ["synthetic"], "train_datasets": ["synthetic"], "eval_datasets": ["synthetic"]},
        "model": {"base": str(model_dir), "min_pixels": 784, "max_pixels": 12544, "torch_dtype": "float32"},
    }
    return deep_merge(base, sections)
