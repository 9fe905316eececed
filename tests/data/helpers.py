"""Helpers shared by the data-pipeline tests."""

from __future__ import annotations

from typing import Any

from vqr1.config import DataParams, deep_merge


def data_params(**overrides: Any) -> DataParams:
    """DataParams for the conftest synthetic set (8 refs x 6 types at 128x96), fast retries."""
    base: dict[str, Any] = {
        "datasets": ["synthetic"],
        "train_datasets": ["synthetic"],
        "eval_datasets": ["synthetic"],
        "download": {"retries": 3, "backoff_s": 0.01, "timeout_s": 10},
        "synthetic": {"width": 128, "height": 96},
    }
    return DataParams.model_validate(deep_merge(base, overrides))
