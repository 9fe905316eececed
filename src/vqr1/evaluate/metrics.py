"""Agreement between predicted scores and MOS (SPEC §3): SRCC, KRCC, PLCC raw and after a 4PL fit, bootstrap CIs.

Why these exact choices: SRCC/KRCC/PLCC are scipy.stats' implementations so that our numbers are
comparable with everyone else's; PLCC is also reported after the 4-parameter logistic mapping that
the IQA literature (and the paper's Table 2) uses to remove a monotone non-linearity. A metric that
is undefined (fewer than 3 pairs, a constant input, a fit that does not converge) is ``None``, never
a made-up number, so it serialises as JSON ``null``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy import optimize, stats

MIN_PAIRS = 3
Statistic = Callable[[np.ndarray, np.ndarray], float]


def logistic4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """The 4-parameter logistic ``(b1 - b2) / (1 + exp(-(x - b3) / b4)) + b2`` (SPEC §3)."""
    z = np.clip(-(np.asarray(x, dtype=float) - b3) / b4, -500.0, 500.0)  # exp overflow guard
    return (b1 - b2) / (1.0 + np.exp(z)) + b2


def _defined(pred: np.ndarray, mos: np.ndarray) -> bool:
    return len(pred) >= MIN_PAIRS and np.ptp(pred) > 0 and np.ptp(mos) > 0


def undefined_reason(pred: np.ndarray, mos: np.ndarray) -> str | None:
    """Why the correlations of ``pred`` against ``mos`` are undefined, in words a reader of the table
    acts on ("one answer for all 150 images: 3.3"); None when they are defined."""
    if len(pred) < MIN_PAIRS:
        return f"{len(pred)} image(s) scored, fewer than {MIN_PAIRS}"
    if np.ptp(pred) == 0:
        return f"one answer for all {len(pred)} images: {pred[0]:.4g}"
    if np.ptp(mos) == 0:
        return f"every one of the {len(mos)} images has the same MOS"
    return None


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def srcc(pred: np.ndarray, mos: np.ndarray) -> float:
    return float(stats.spearmanr(pred, mos).statistic)


def krcc(pred: np.ndarray, mos: np.ndarray) -> float:
    return float(stats.kendalltau(pred, mos).statistic)


def plcc(pred: np.ndarray, mos: np.ndarray) -> float:
    return float(stats.pearsonr(pred, mos).statistic)


def fit_logistic4(pred: np.ndarray, mos: np.ndarray) -> tuple[float, float, float, float] | None:
    """Least-squares 4PL parameters mapping ``pred`` onto ``mos``; None when the fit does not converge.

    Start: b1/b2 at the MOS extremes, b3 at the mean prediction, b4 at the prediction spread (its
    sign from the raw correlation), the usual VQEG initialisation.
    """
    pred, mos = np.asarray(pred, dtype=float), np.asarray(mos, dtype=float)
    if not _defined(pred, mos) or len(pred) < 4:  # four parameters need at least four points
        return None
    sign = 1.0 if plcc(pred, mos) >= 0 else -1.0
    p0 = [float(mos.max()), float(mos.min()), float(pred.mean()), sign * float(pred.std())]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optimize.OptimizeWarning)
            params, _ = optimize.curve_fit(logistic4, pred, mos, p0=p0, maxfev=20000)
    except (RuntimeError, ValueError):
        return None
    if not np.all(np.isfinite(params)):
        return None
    b1, b2, b3, b4 = (float(v) for v in params)
    return b1, b2, b3, b4


def plcc_4pl(pred: np.ndarray, mos: np.ndarray) -> float | None:
    """PLCC between the 4PL-mapped predictions and MOS."""
    params = fit_logistic4(pred, mos)
    if params is None:
        return None
    mapped = logistic4(np.asarray(pred, dtype=float), *params)
    return _finite(plcc(mapped, mos)) if np.ptp(mapped) > 0 else None


def bootstrap_ci(
    pred: np.ndarray, mos: np.ndarray, statistic: Statistic, n_resamples: int, seed: int
) -> dict[str, float] | None:
    """Percentile 95% CI ``{"low", "high"}`` of ``statistic`` over paired resamples (same seed, same CI).

    A resample whose predictions are all equal has no correlation (NaN); such resamples are left
    out of the percentiles, and the CI is None when they are more than half (a near-constant
    predictor has no meaningful interval). A dict, not a pair: `dvc metrics show` drops lists.
    """
    pred, mos = np.asarray(pred, dtype=float), np.asarray(mos, dtype=float)
    if n_resamples <= 0 or not _defined(pred, mos):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate resamples warn; they are handled below
        result = stats.bootstrap(
            (pred, mos),
            statistic,
            paired=True,
            vectorized=False,
            n_resamples=n_resamples,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    dist = np.asarray(result.bootstrap_distribution, dtype=float)
    dist = dist[np.isfinite(dist)]
    if len(dist) * 2 < n_resamples:
        return None
    low, high = np.percentile(dist, [2.5, 97.5])
    return {"low": float(low), "high": float(high)}


def dataset_metrics(
    pred: np.ndarray, mos: np.ndarray, n_resamples: int, seed: int, parse_failure_rate: float | None = None
) -> dict[str, Any]:
    """Every metric of one dataset, over the images that have a prediction (NaN predictions are dropped)."""
    pred, mos = np.asarray(pred, dtype=float), np.asarray(mos, dtype=float)
    keep = np.isfinite(pred) & np.isfinite(mos)
    pred, mos = pred[keep], mos[keep]
    defined = _defined(pred, mos)
    out: dict[str, Any] = {
        "srcc": _finite(srcc(pred, mos)) if defined else None,
        "krcc": _finite(krcc(pred, mos)) if defined else None,
        "plcc": _finite(plcc(pred, mos)) if defined else None,
        "plcc_4pl": plcc_4pl(pred, mos),
        "n": len(pred),
        "srcc_ci": bootstrap_ci(pred, mos, srcc, n_resamples, seed),
        "plcc_ci": bootstrap_ci(pred, mos, plcc, n_resamples, seed),
    }
    if not defined:
        out["undefined"] = undefined_reason(pred, mos)
    if parse_failure_rate is not None:
        out["parse_failure_rate"] = parse_failure_rate
    return out


def group_srcc(pred: np.ndarray, mos: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    """SRCC within each group, averaged over groups (``srcc_group_mean``), and how many groups count.

    For sets whose scores are scaled within groups (SRIQA-Bench: min-max to 0-100 within each group of
    11), a pooled SRCC mixes group-relative scales; the per-group mean compares like with like. Images
    without a prediction are dropped first; a group whose SRCC is undefined (fewer than 3 images, a
    constant input) is left out and not counted.
    """
    pred, mos, groups = np.asarray(pred, dtype=float), np.asarray(mos, dtype=float), np.asarray(groups)
    keep = np.isfinite(pred) & np.isfinite(mos)
    values = []
    for group in np.unique(groups[keep].astype(str)):
        inside = keep & (groups.astype(str) == group)
        if _defined(pred[inside], mos[inside]):
            values.append(srcc(pred[inside], mos[inside]))
    finite = [v for v in values if math.isfinite(v)]
    return {"srcc_group_mean": float(np.mean(finite)) if finite else None, "n_groups": len(finite)}


MEAN_KEYS = ("srcc", "krcc", "plcc", "plcc_4pl")


def mean_over(datasets: Mapping[str, Mapping[str, Any]]) -> dict[str, float | None]:
    """The mean of each correlation over datasets (the paper's "Avg" column); None if any dataset lacks it.

    A mean over fewer datasets than listed would silently compare unlike averages, hence None.
    """
    out: dict[str, float | None] = {}
    for key in MEAN_KEYS:
        values = [d.get(key) for d in datasets.values()]
        out[key] = float(np.mean(values)) if values and all(v is not None for v in values) else None
    return out
