"""Classical baselines: the skip note offline, NIQE/BRISQUE from local parameter files in pyiqa's formats.

No package ships the authors' NIQE/BRISQUE parameters (docs/evaluation.md), and they are not ours to
ship, so the scoring tests build files in the same formats with parameters fitted here on synthetic
photographs, by the authors' own recipes: NIQE's model is the mean and covariance of the patch features
of pristine images (``estimatemodelparam.m`` in the NIQE release, Mittal et al. 2012), and BRISQUE's is
an epsilon-SVR with an RBF kernel, gamma 0.05, on the 36 scaled features (the release's ``allmodel``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image, ImageFilter

from vqr1.data.synth import make_reference
from vqr1.errors import ConfigError
from vqr1.evaluate import baselines

BLOCK = 96  # NIQE's patch size (the release's blocksizerow/blocksizecol)


def _pristine_and_distorted(tmp_path: Path, refs: range) -> dict[str, list[Path]]:
    """Each reference as PNG, blurred (Gaussian radius 3) and noisy (Gaussian sigma 30)."""
    rng = np.random.default_rng(0)
    out: dict[str, list[Path]] = {"pristine": [], "blurred": [], "noisy": []}
    for i in refs:
        ref = make_reference(i)
        noisy = np.asarray(ref, dtype=np.float64) + rng.normal(0.0, 30.0, (ref.height, ref.width, 3))
        images = {
            "pristine": ref,
            "blurred": ref.filter(ImageFilter.GaussianBlur(3)),
            "noisy": Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)),
        }
        for kind, img in images.items():
            path = tmp_path / f"{kind}_{i}.png"
            img.save(path)
            out[kind].append(path)
    return out


def _niqe_features(img: Image.Image) -> torch.Tensor:
    """Patch features (patches x 36) as pyiqa's NIQE computes them: Y channel, two scales."""
    from pyiqa.archs.func_util import normalize_img_with_gauss
    from pyiqa.archs.niqe_arch import compute_feature
    from pyiqa.matlab_utils import blockproc, imresize
    from pyiqa.utils.color_util import to_y_channel
    from torchvision.transforms.functional import to_tensor

    y = to_y_channel(to_tensor(img).unsqueeze(0).double(), 255, "yiq").round()
    h, w = (y.shape[-2] // BLOCK) * BLOCK, (y.shape[-1] // BLOCK) * BLOCK
    y = y[..., :h, :w]
    feats = []
    for scale in (1, 2):
        feats.append(
            blockproc(
                normalize_img_with_gauss(y, padding="replicate"), [BLOCK // scale] * 2, fun=compute_feature
            )
        )
        if scale == 1:
            y = imresize(y / 255.0, scale=0.5, antialiasing=True) * 255.0
    return torch.cat(feats, -1)[0]


def test_niqe_and_brisque_are_skipped_offline_with_the_file_to_give() -> None:
    for name, file in (("niqe", "modelparameters.mat"), ("brisque", "allmodel")):
        loaded = baselines.load(name, {}, device="cpu")
        assert loaded.metric is None
        assert f"evaluate.baseline_weights.{name}" in loaded.skipped and file in loaded.skipped


def test_niqe_scores_offline_from_a_local_model_file(tmp_path: Path) -> None:
    feats = torch.cat([_niqe_features(make_reference(i)) for i in range(6)]).numpy()
    model = tmp_path / "modelparameters.mat"  # the release's variable names and shapes (1x36, 36x36)
    scipy.io.savemat(model, {"mu_prisparam": feats.mean(0, keepdims=True), "cov_prisparam": np.cov(feats.T)})
    niqe = baselines.load("niqe", {"niqe": str(model)}, device="cpu")
    images = _pristine_and_distorted(tmp_path, range(6, 9))  # references the model did not see
    scores = {kind: baselines.score(niqe, paths) for kind, paths in images.items()}
    assert np.isfinite(np.concatenate(list(scores.values()))).all()
    # sign-flipped (NIQE is lower-better): every pristine image scores above its blurred and noisy copy
    assert (scores["pristine"] > scores["blurred"]).all(), scores
    assert (scores["pristine"] > scores["noisy"]).all(), scores


def _brisque_features(path: Path) -> torch.Tensor:
    """The 36 scaled features as pyiqa's BRISQUE computes them: Y channel, two scales."""
    from pyiqa.archs.brisque_arch import natural_scene_statistics, scale_features
    from pyiqa.matlab_utils import imresize
    from pyiqa.utils.color_util import to_y_channel
    from torchvision.transforms.functional import to_tensor

    x = to_y_channel(to_tensor(Image.open(path).convert("RGB")).unsqueeze(0), 255.0)
    feats = []
    for _ in range(2):
        feats.append(natural_scene_statistics(x, 7, 7 / 6))
        x = imresize(x, scale=0.5, antialiasing=True)
    return scale_features(torch.cat(feats, -1))[0].double()


def _brisque_model(tmp_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(sv_coef, sv): an RBF-kernel regression on pristine (10) and distorted (80) synthetic photos.

    With pyiqa's fixed gamma 0.05 and rho -153.591 (score = K @ sv_coef - rho), as the release's model.
    """
    (tmp_path / "train").mkdir()
    train = _pristine_and_distorted(tmp_path / "train", range(6))
    sv = torch.stack([_brisque_features(p) for kind in ("pristine", "blurred", "noisy") for p in train[kind]])
    target = torch.tensor([10.0] * 6 + [80.0] * 12, dtype=torch.float64)  # BRISQUE: lower = better
    kernel = torch.exp(-0.05 * torch.cdist(sv, sv).pow(2))
    sv_coef = torch.linalg.solve(kernel + 1e-3 * torch.eye(len(sv), dtype=torch.float64), target - 153.591)
    return sv_coef, sv


def _libsvm_text(sv_coef: torch.Tensor, sv: torch.Tensor, rho: str = "-153.591") -> str:
    """A model file as libsvm's svm_save_model writes one (svm.cpp): header, ``SV``, sparse 1-based rows."""
    lines = ["svm_type epsilon_svr", "kernel_type rbf", "gamma 0.05", "nr_class 2", f"total_sv {len(sv)}"]
    lines += [f"rho {rho}", "SV"]
    for coef, row in zip(sv_coef.tolist(), sv.tolist(), strict=True):
        lines.append(f"{coef:.17g} " + " ".join(f"{k + 1}:{v:.8g}" for k, v in enumerate(row) if v != 0))
    return "\n".join(lines) + "\n"


def test_brisque_scores_offline_from_a_torch_pair_or_a_libsvm_model(tmp_path: Path) -> None:
    sv_coef, sv = _brisque_model(tmp_path)
    pair, allmodel = tmp_path / "brisque_svm_weights.pth", tmp_path / "allmodel"
    torch.save((sv_coef, sv), pair)
    allmodel.write_text(_libsvm_text(sv_coef, sv))
    images = _pristine_and_distorted(tmp_path, range(6, 9))  # references the model did not see
    by_file = {}
    for path in (pair, allmodel):
        brisque = baselines.load("brisque", {"brisque": str(path)}, device="cpu")
        by_file[path.name] = {kind: baselines.score(brisque, paths) for kind, paths in images.items()}
    scores = by_file[pair.name]
    assert np.isfinite(np.concatenate(list(scores.values()))).all()
    assert (scores["pristine"] > scores["blurred"]).all(), scores
    assert (scores["pristine"] > scores["noisy"]).all(), scores
    for kind, values in by_file[allmodel.name].items():  # the libsvm text scores as the pair (8 digits kept)
        np.testing.assert_allclose(values, scores[kind], rtol=1e-5)


def test_libsvm_models_pyiqa_would_score_wrongly_are_refused(tmp_path: Path) -> None:
    sv_coef = torch.tensor([1.0, -1.0], dtype=torch.float64)
    sv = torch.zeros(2, 36, dtype=torch.float64) + 0.5
    good = _libsvm_text(sv_coef, sv)
    cases = {
        "other bias": (good.replace("rho -153.591", "rho -155.845"), "pyiqa's BRISQUE fixes"),
        "classifier": (good.replace("epsilon_svr", "c_svc"), "epsilon_svr with an rbf kernel"),
        "count": (good.replace("total_sv 2", "total_sv 3"), "total_sv 3 but 2"),
        "index 0": (good.replace(" 1:0.5", " 0:0.5", 1), "feature index 0"),
        "index 37": (good.replace(" 36:0.5", " 37:0.5", 1), "feature index 37"),
        "no SV line": (good.replace("\nSV\n", "\n"), "needs an SV line"),
    }
    for label, (text, problem) in cases.items():
        path = tmp_path / f"{label}.model"
        path.write_text(text)
        with pytest.raises(ConfigError, match=problem):
            baselines.load("brisque", {"brisque": str(path)}, device="cpu")


class _RunsCode:
    """A pickle that would create a file when loaded without torch's weights_only guard."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.marker), "ran"))


def test_bad_parameter_files_are_refused_naming_the_file(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    evil = tmp_path / "evil.pth"
    torch.save(_RunsCode(marker), evil)
    wrong_keys, wrong_shape, pair_of_wrong_size = (tmp_path / n for n in ("k.mat", "s.mat", "w.pth"))
    scipy.io.savemat(wrong_keys, {"pop_mu": np.zeros((1, 36)), "pop_cov": np.eye(36)})  # scikit-video's names
    scipy.io.savemat(wrong_shape, {"mu_prisparam": np.zeros((1, 18)), "cov_prisparam": np.eye(18)})
    torch.save((torch.zeros(3), torch.zeros(3, 18)), pair_of_wrong_size)
    cases = [
        ("brisque", evil, "not a torch-saved"),
        ("brisque", pair_of_wrong_size, "36-feature"),
        ("niqe", wrong_keys, "mu_prisparam and cov_prisparam"),
        ("niqe", wrong_shape, "36-vector"),
        ("niqe", evil, "not a MATLAB .mat file"),
        ("niqe", tmp_path / "missing.mat", "file not found"),
    ]
    for name, path, problem in cases:
        with pytest.raises(ConfigError, match=problem) as err:
            baselines.load(name, {name: str(path)}, device="cpu")
        assert str(path) in str(err.value)
    assert not marker.exists()  # the code in the pickle never ran
