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
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vqr1.errors import ConfigError, DataError, shorten
from vqr1.inference.images import load_image

BASELINES = ("piqe", "niqe", "brisque")  # the pyiqa no-reference metrics evaluate.baselines may name
# The file pyiqa 0.1.16 downloads for each metric, impossible offline: it loads only from a local copy.
PARAMETER_FILES = {
    "niqe": "the NIQE release's modelparameters.mat (mu_prisparam 1x36, cov_prisparam 36x36), "
    "which pyiqa downloads as niqe_modelparameters.mat",
    "brisque": "the BRISQUE release's allmodel (libsvm text), or pyiqa's brisque_svm_weights.pth "
    "(the same 774 support vectors as a torch-saved (sv_coef, sv) pair)",
}
NIQE_FEATURES = 36  # 18 features at each of two scales (Mittal et al. 2012)
BRISQUE_FEATURES = 36
# pyiqa fixes the release model's RBF gamma and bias in its code, so a libsvm model must carry the same
BRISQUE_GAMMA, BRISQUE_RHO = 0.05, -153.591


@dataclass
class Baseline:
    """A loaded pyiqa metric, or the reason it was skipped (``metric`` None)."""

    name: str
    metric: Any | None = None
    skipped: str | None = None


def _check_parameter_file(name: str, path: Path) -> None:
    """Refuse a file pyiqa would load wrongly, with the file and the problem named (pyiqa raises a bare KeyError)."""
    where = f"evaluate.baseline_weights.{name}: {path}"
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


def _starts_with(path: Path, prefix: bytes) -> bool:
    with open(path, "rb") as f:
        return f.read(len(prefix)) == prefix


def brisque_pair_from_libsvm(path: Path) -> tuple[Any, Any]:
    """The BRISQUE release's ``allmodel`` (a libsvm model file) as pyiqa's (sv_coef, sv) tensors.

    libsvm writes a header (``svm_type``, ``kernel_type``, ``gamma``, ``total_sv``, ``rho`` ...), a line
    ``SV``, then one support vector a line: its coefficient and sparse ``index:value`` features (1-based,
    zeros left out).
    """
    import torch

    where = f"evaluate.baseline_weights.brisque: {path}"
    header, sep, body = path.read_text(encoding="ascii", errors="replace").partition("\nSV\n")
    if not sep:
        raise ConfigError(f"{where}: a libsvm model needs an SV line before its support vectors")
    pairs = (line.split(None, 1) for line in header.splitlines() if line.strip())
    fields = {p[0]: p[1] if len(p) > 1 else "" for p in pairs}
    kind = (fields.get("svm_type", "").strip(), fields.get("kernel_type", "").strip())
    if kind != ("epsilon_svr", "rbf"):
        raise ConfigError(
            f"{where}: a {kind[0]} {kind[1]} model; BRISQUE's is an epsilon_svr with an rbf kernel"
        )
    try:
        gamma, rho, total = float(fields["gamma"]), float(fields["rho"]), int(fields["total_sv"])
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"{where}: header needs numeric gamma, rho and total_sv ({exc})") from exc
    if not (math.isclose(gamma, BRISQUE_GAMMA) and math.isclose(rho, BRISQUE_RHO)):
        raise ConfigError(
            f"{where}: gamma {gamma}, rho {rho}; pyiqa's BRISQUE fixes gamma {BRISQUE_GAMMA} and rho "
            f"{BRISQUE_RHO} (the release's allmodel), so this model would score wrongly"
        )
    rows = [line.split() for line in body.splitlines() if line.strip()]
    if len(rows) != total:
        raise ConfigError(f"{where}: total_sv {total} but {len(rows)} support vectors")
    sv_coef, sv = np.empty(total), np.zeros((total, BRISQUE_FEATURES))
    for i, row in enumerate(rows):
        try:
            sv_coef[i] = float(row[0])
            for item in row[1:]:
                index, value = item.split(":")
                if not 1 <= int(index) <= BRISQUE_FEATURES:
                    raise ValueError(f"feature index {index}")
                sv[i, int(index) - 1] = float(value)
        except (ValueError, IndexError) as exc:
            raise ConfigError(
                f"{where}: support vector {i + 1} is not 'coefficient index:value ...' with indices "
                f"1-{BRISQUE_FEATURES} ({exc})"
            ) from exc
    return torch.from_numpy(sv_coef), torch.from_numpy(sv)


def load(name: str, weights: Mapping[str, str], device: str | None = None) -> Baseline:
    """The pyiqa metric ``name``; NIQE/BRISQUE only from a local parameter file given in ``weights``."""
    if name not in BASELINES:
        raise ConfigError(f"evaluate.baselines: unknown baseline {name!r}; known: {list(BASELINES)}")
    import pyiqa
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if name not in PARAMETER_FILES:
        return Baseline(name, metric=pyiqa.create_metric(name, device=device))
    local = weights.get(name)
    if not local:
        return Baseline(
            name,
            skipped=f"no parameter file offline: set evaluate.baseline_weights.{name} to {PARAMETER_FILES[name]}",
        )
    path = Path(local)
    if not path.is_file():
        raise ConfigError(f"evaluate.baseline_weights.{name}: {path}: file not found")
    # pyiqa reads the file while it builds the metric, so a converted copy only lives until then
    with tempfile.TemporaryDirectory(prefix="vqr1-baseline-") as tmp:
        if name == "brisque" and _starts_with(path, b"svm_type"):
            path = Path(tmp) / "brisque_svm_weights.pth"
            torch.save(brisque_pair_from_libsvm(Path(local)), path)
        _check_parameter_file(name, path)
        metric = pyiqa.create_metric(name, device=device, pretrained_model_path=str(path))
    return Baseline(name, metric=metric)


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
