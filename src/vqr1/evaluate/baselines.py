"""Classical no-reference IQA baselines (pyiqa) scored on the same images, for the report's comparison.

Why only these three: they are the paper's classical rows (NIQE, BRISQUE) plus PIQE, which needs no
parameter file and so runs offline. NIQE and BRISQUE download their parameter files on first use, and
no maintained package ships the authors' parameters (docs/evaluation.md lists what was checked and
why each candidate was rejected); offline they run only from a local file
(``evaluate.baseline_weights``), otherwise they are skipped with a note in the report naming the file
to give, instead of hanging on a download. Scores are sign-flipped where lower is better, so that
every correlation reads "higher = agrees with MOS", as in the paper's table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vqr1.errors import ConfigError, DataError, shorten
from vqr1.evaluate.inference import load_image

BASELINES = ("piqe", "niqe", "brisque")  # the pyiqa no-reference metrics evaluate.baselines may name
# The file pyiqa 0.1.16 downloads for each metric, impossible offline: it loads only from a local copy.
PARAMETER_FILES = {
    "niqe": "the NIQE release's modelparameters.mat (mu_prisparam 1x36, cov_prisparam 36x36), "
    "which pyiqa downloads as niqe_modelparameters.mat",
    "brisque": "pyiqa's brisque_svm_weights.pth, a torch-saved (sv_coef, sv) pair: the 774 support "
    "vectors of the BRISQUE release's allmodel",
}
NIQE_FEATURES = 36  # 18 features at each of two scales (Mittal et al. 2012)
BRISQUE_FEATURES = 36


@dataclass
class Baseline:
    """A loaded pyiqa metric, or the reason it was skipped (``metric`` None)."""

    name: str
    metric: Any | None = None
    skipped: str | None = None


def check_parameter_file(name: str, path: Path) -> None:
    """Refuse a file pyiqa would load wrongly, with the file and the problem named (pyiqa raises a bare KeyError)."""
    where = f"evaluate.baseline_weights.{name}: {path}"
    if not path.is_file():
        raise ConfigError(f"{where}: file not found")
    if name == "niqe":
        import scipy.io

        try:
            params = scipy.io.loadmat(path)
        except Exception as exc:  # scipy raises ValueError, TypeError, MatReadError... by content
            raise ConfigError(f"{where}: not a MATLAB .mat file ({shorten(str(exc))})") from exc
        mu, cov = params.get("mu_prisparam"), params.get("cov_prisparam")
        if mu is None or cov is None:
            raise ConfigError(
                f"{where}: needs variables mu_prisparam and cov_prisparam, has {sorted(params)}"
            )
        if np.size(mu) != NIQE_FEATURES or np.shape(cov) != (NIQE_FEATURES, NIQE_FEATURES):
            raise ConfigError(
                f"{where}: mu_prisparam {np.shape(mu)} and cov_prisparam {np.shape(cov)}; "
                f"NIQE's model is a {NIQE_FEATURES}-vector and a {NIQE_FEATURES}x{NIQE_FEATURES} matrix"
            )
    elif name == "brisque":
        import torch

        try:  # weights_only: a pickle that runs code is refused here, before pyiqa loads it without that guard
            pair = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises UnpicklingError, KeyError, RuntimeError... by content
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"{where}: not a torch-saved (sv_coef, sv) pair of tensors ({shorten(first)})"
            ) from exc
        if not (isinstance(pair, tuple | list) and len(pair) == 2 and all(torch.is_tensor(t) for t in pair)):
            raise ConfigError(f"{where}: holds {type(pair).__name__}, not a (sv_coef, sv) pair of tensors")
        sv_coef, sv = pair
        if sv.ndim != 2 or sv.shape[1] != BRISQUE_FEATURES or sv_coef.numel() != sv.shape[0]:
            raise ConfigError(
                f"{where}: sv_coef {tuple(sv_coef.shape)} and sv {tuple(sv.shape)}; "
                f"BRISQUE's SVR needs one coefficient per {BRISQUE_FEATURES}-feature support vector"
            )


def load(name: str, weights: Mapping[str, str], device: str | None = None) -> Baseline:
    """The pyiqa metric ``name``; NIQE/BRISQUE only from a local parameter file given in ``weights``."""
    if name not in BASELINES:
        raise ConfigError(f"evaluate.baselines: unknown baseline {name!r}; known: {list(BASELINES)}")
    kwargs: dict[str, Any] = {}
    if name in PARAMETER_FILES:
        local = weights.get(name)
        if not local:
            return Baseline(
                name,
                skipped=f"no parameter file offline: set evaluate.baseline_weights.{name} to "
                f"{PARAMETER_FILES[name]}",
            )
        check_parameter_file(name, Path(local))
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
