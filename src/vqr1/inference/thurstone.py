"""The paper's Thurstone model: how likely one image is better than another, from their sampled scores.

With the K parsed scores of each image, mean ``mu`` and unbiased variance ``var`` (divide by K-1; 0 with one
score)::

    P(a better than b) = Phi((mu_a - mu_b) / sqrt(var_a + var_b + gamma)),   gamma = 1e-6

the comparative probability of VisualQuality-R1 (SPEC §1; the ranking reward uses the same form per
completion). It is antisymmetric: ``P(a, b) + P(b, a) = 1`` for one set of samples, and P > 0.5 exactly when
mu_a > mu_b, so ranking by the mean is ranking by the model's pairwise preferences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

GAMMA = 1e-6  # added to the pooled variance (SPEC §1)


def normal_cdf_torch(z: np.ndarray) -> np.ndarray:
    """Phi, elementwise in float64, by torch's ``special.ndtr``: torch is wherever the model runs, SciPy is
    not on every GPU image (the GPU check's carried wheels leave it out)."""
    import torch

    return torch.special.ndtr(torch.as_tensor(np.asarray(z, dtype=np.float64))).numpy()


try:  # SciPy's ndtr where it is installed: a few microseconds less per reward call on small groups
    from scipy.special import ndtr as normal_cdf
except ImportError:
    normal_cdf = normal_cdf_torch


def mean_var(scores: Sequence[float]) -> tuple[float, float]:
    """Mean and unbiased variance of the scores (variance 0 with one score); NaN mean when there are none."""
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        return math.nan, 0.0
    return float(values.mean()), float(values.var(ddof=1)) if values.size > 1 else 0.0


def probability(a: Sequence[float], b: Sequence[float]) -> float:
    """P(a better than b) from the scores of a and of b; NaN when either has no score."""
    mu_a, var_a = mean_var(a)
    mu_b, var_b = mean_var(b)
    if math.isnan(mu_a) or math.isnan(mu_b):
        return math.nan
    return float(normal_cdf((mu_a - mu_b) / math.sqrt(var_a + var_b + GAMMA)))


def ranking(means: Sequence[float | None]) -> list[int]:
    """Indices, best first (higher mean first; ties keep their order); images without a score come last."""
    scored = [i for i, m in enumerate(means) if m is not None and not math.isnan(m)]
    seen = set(scored)
    unscored = [i for i in range(len(means)) if i not in seen]
    return sorted(scored, key=lambda i: -float(means[i])) + unscored  # type: ignore[arg-type]
