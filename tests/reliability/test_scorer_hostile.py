"""The scorer against unusual and hostile image files: 16-bit and other modes, a 100-Mpx file, missing paths.

Scored through the real Scorer on the tiny model (random weights: the completions need not parse; what
matters is which images reached the model and what each bad file reports).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from tests.model.helpers import tiny_model_params
from vqr1.config import EvaluateParams, load_params
from vqr1.evaluate.commands import app
from vqr1.inference.images import load_image, to_rgb
from vqr1.inference.scorer import build_scorer


def _png16(path: Path) -> Path:
    """A 16-bit grey PNG: a horizontal ramp over the whole 0-65535 range."""
    ramp = np.linspace(0, 65535, 256).round().astype(np.uint16)
    Image.fromarray(np.tile(ramp, (64, 1))).save(path)
    return path


def _huge(path: Path) -> Path:
    """A 10000 x 10000 (100 Mpx) 1-bit PNG of about 12 kB: cheap to store, 300 MB once decoded to RGB."""
    Image.new("1", (10_000, 10_000)).save(path)
    return path


@pytest.mark.fault("16-bit grey PNG (0-65535 ramp)")
def test_sixteen_bit_png_is_scaled_not_clipped(scorecard, tmp_path: Path) -> None:
    path = _png16(tmp_path / "ramp16.png")
    with Image.open(path) as img:
        assert img.mode == "I;16"
        clipped = np.asarray(img.convert("RGB"))[..., 0]
        raw = np.asarray(img).astype(np.float64)
    rgb = np.asarray(load_image(path))
    assert rgb.dtype == np.uint8 and rgb.shape == (64, 256, 3)
    assert np.abs(rgb[..., 0] - raw / 257).max() <= 0.5 + 1e-9
    assert (rgb[..., 0] == 255).mean() < 0.01 and (clipped == 255).mean() > 0.99
    scorecard.happened = (
        f"scaled 65535 -> 255 (max error 0.5 level); PIL's convert clipped {(clipped == 255).mean():.1%} of "
        f"the pixels to 255, now {(rgb[..., 0] == 255).mean():.1%}"
    )


def _modes() -> dict[str, tuple[Image.Image, tuple[int, int, int]]]:
    """One small image per mode and the RGB its first pixel must become."""
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 200, 30, 10] + [0] * 762)
    cmyk = Image.new("CMYK", (4, 4), (0, 0, 0, 0))
    return {
        "I": (Image.new("I", (4, 4), 32768), (128, 128, 128)),
        "F": (Image.new("F", (4, 4), 0.5), (128, 128, 128)),
        "LA": (Image.new("LA", (4, 4), (100, 7)), (100, 100, 100)),
        "La": (Image.new("La", (4, 4), (100, 255)), (100, 100, 100)),
        "P": (palette, (200, 30, 10)),
        "CMYK": (cmyk, (255, 255, 255)),
        "1": (Image.new("1", (4, 4), 1), (255, 255, 255)),
        "RGBA": (Image.new("RGBA", (4, 4), (10, 20, 30, 0)), (10, 20, 30)),
    }


@pytest.mark.fault("images in modes I, F, LA, La, P, CMYK, 1, RGBA")
def test_every_mode_becomes_8_bit_rgb_with_its_own_scaling(scorecard) -> None:
    for mode, (img, first) in _modes().items():
        rgb = to_rgb(img)
        assert rgb.mode == "RGB" and rgb.size == (4, 4), mode
        assert rgb.getpixel((0, 0)) == first, (mode, rgb.getpixel((0, 0)))
    scorecard.happened = (
        "each became RGB with the expected first pixel (I: 16-bit range, F: [0, 1], alpha dropped)"
    )


@pytest.mark.fault("100-Mpx image, missing paths and a 16-bit PNG in one scoring call")
def test_bad_files_are_reported_per_file(scorecard, tmp_path: Path, tiny_model_dir: Path) -> None:
    good = tmp_path / "good.png"
    Image.new("RGB", (64, 48), (90, 120, 30)).save(good)
    paths = [good, tmp_path / "missing.png", _huge(tmp_path / "huge.png"), _png16(tmp_path / "ramp16.png")]
    params = load_params(_params(tmp_path, tiny_model_dir))
    scorer = build_scorer(params, settings=EvaluateParams(max_new_tokens=4, batch_size=4, temperature=0))
    started = time.perf_counter()
    results = scorer.score(paths)
    elapsed = time.perf_counter() - started
    errors = {Path(r.path).name: r.error for r in results}
    assert errors["good.png"] is None and errors["ramp16.png"] is None
    assert errors["missing.png"].endswith("missing.png: no such file")
    assert "100,000,000 pixels, more than evaluate.max_decode_pixels" in errors["huge.png"]
    assert all(len(r.texts) == 1 for r in results if r.error is None), "the good images were scored"
    scorecard.happened = (
        f"good and 16-bit images scored; missing.png and the 100-Mpx file (refused from its header) each "
        f"got their own error; {elapsed:.1f} s for the call"
    )


@pytest.mark.fault("vqr1 score with only missing paths")
def test_only_missing_paths_fail_fast_per_file(scorecard, tmp_path: Path, tiny_model_dir: Path) -> None:
    params = _params(tmp_path, tiny_model_dir)
    started = time.perf_counter()
    result = CliRunner().invoke(
        app, ["score", "--params", str(params), "--adapter", "none", "a.png", str(tmp_path / "b")]
    )
    elapsed = time.perf_counter() - started
    assert result.exit_code == 1, result.output
    assert "a.png: no such file" in result.output and "b: no such file" in result.output
    assert "2 of 2 files could not be scored" in result.output
    scorecard.happened = f"one error per path, exit 1, no model loaded ({elapsed:.2f} s)"


def _params(root: Path, model: Path) -> Path:
    path = root / "params.yaml"
    cfg = tiny_model_params(
        model,
        train={"run_name": "absent"},
        evaluate={"max_new_tokens": 4, "batch_size": 4, "temperature": 0},
    )
    path.write_text(yaml.safe_dump(cfg))
    return path
