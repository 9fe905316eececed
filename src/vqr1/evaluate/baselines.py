"""Classical no-reference IQA baselines (pyiqa) scored on the same images, for the report's comparison.

Why only these three: they are the paper's classical rows (NIQE, BRISQUE) plus PIQE, which needs no
parameter file and so runs offline. NIQE and BRISQUE download their parameter files on first use;
offline they run only from a local file (``evaluate.baseline_weights``), otherwise they are skipped
with a note in the report instead of hanging on a download. Scores are sign-flipped where lower is
better, so that every correlation reads "higher = agrees with MOS", as in the paper's table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vqr1.errors import ConfigError, DataError
from vqr1.inference.images import load_image

BASELINES = ("piqe", "niqe", "brisque")  # the pyiqa no-reference metrics evaluate.baselines may name
# pyiqa downloads these metrics' parameter files, impossible offline: they load only from a local file
NEEDS_PARAMETER_FILE = frozenset({"niqe", "brisque"})


@dataclass
class Baseline:
    """A loaded pyiqa metric, or the reason it was skipped (``metric`` None)."""

    name: str
    metric: Any | None = None
    skipped: str | None = None


def load(name: str, weights: Mapping[str, str], device: str | None = None) -> Baseline:
    """The pyiqa metric ``name``; NIQE/BRISQUE only from a local parameter file given in ``weights``."""
    if name not in BASELINES:
        raise ConfigError(f"evaluate.baselines: unknown baseline {name!r}; known: {list(BASELINES)}")
    kwargs: dict[str, Any] = {}
    if name in NEEDS_PARAMETER_FILE:
        local = weights.get(name)
        if not local:
            return Baseline(
                name, skipped="no local parameter file (evaluate.baseline_weights) and no internet"
            )
        if not Path(local).is_file():
            raise ConfigError(f"evaluate.baseline_weights.{name}: {local}: file not found")
        kwargs["pretrained_model_path"] = str(local)
    import pyiqa
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return Baseline(name, metric=pyiqa.create_metric(name, device=device, **kwargs))


def score(baseline: Baseline, paths: Sequence[Path], short_edge: int | None = None) -> np.ndarray:
    """One score per image, higher = better; NaN for an image that cannot be read."""
    import torch
    from torchvision.transforms.functional import to_tensor

    if baseline.metric is None:
        raise ValueError(f"baseline {baseline.name} was skipped: {baseline.skipped}")
    sign = -1.0 if baseline.metric.lower_better else 1.0
    out = np.full(len(paths), math.nan)
    with torch.inference_mode():
        for i, path in enumerate(paths):
            try:
                img = load_image(path, short_edge)
            except DataError:
                continue
            out[i] = sign * float(baseline.metric(to_tensor(img).unsqueeze(0)).item())
    return out
