"""The synthetic KADID-format set: layout, label columns, count, determinism, MOS order."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from vqr1.data import synth


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_layout_and_columns(synth_root: Path) -> None:
    folder = synth_root / "kadid10k"
    labels = pd.read_csv(folder / "dmos.csv")
    assert list(labels.columns) == ["dist_img", "ref_img", "dmos", "var"]
    spec = synth.SynthSpec()
    assert len(labels) == spec.n_images == 8 * 6 * 5
    assert labels["dist_img"].str.fullmatch(r"I\d{2}_\d{2}_\d{2}\.png").all()
    assert labels["ref_img"].str.fullmatch(r"I\d{2}\.png").all()
    assert labels["dist_img"].is_unique
    for name in list(labels["dist_img"]) + list(labels["ref_img"].unique()):
        assert (folder / "images" / name).is_file(), name
    with Image.open(folder / "images" / labels["dist_img"][0]) as img:
        assert img.size == (128, 96) and img.mode == "RGB"
    assert labels["dmos"].between(1, 5).all()


def test_mos_strictly_falls_with_level(synth_root: Path) -> None:
    labels = pd.read_csv(synth_root / "kadid10k" / "dmos.csv")
    parts = labels["dist_img"].str.extract(r"I(\d+)_(\d+)_(\d+)").astype(int)
    labels[["ref", "type", "level"]] = parts
    for _, group in labels.groupby(["ref", "type"]):
        mos = group.sort_values("level")["dmos"].to_numpy()
        assert (mos[:-1] > mos[1:]).all(), group


def test_distortion_changes_pixels_more_with_level(synth_root: Path) -> None:
    import numpy as np

    images = synth_root / "kadid10k" / "images"
    ref = np.asarray(Image.open(images / "I01.png"), dtype=float)
    errors = [
        np.abs(np.asarray(Image.open(images / f"I01_01_{lvl:02d}.png"), dtype=float) - ref).mean()
        for lvl in range(1, 6)
    ]
    assert errors == sorted(errors) and errors[0] > 0


def test_deterministic_for_a_seed(tmp_path: Path, synth_root: Path) -> None:
    spec = synth.SynthSpec(width=128, height=96)
    again = synth.build(tmp_path / "a", spec, workers=1, progress=False)
    assert _digest(again) == _digest(synth_root / "kadid10k")
    other = synth.build(
        tmp_path / "b", synth.SynthSpec(width=128, height=96, seed=7, references=2, types=2), progress=False
    )
    assert (
        pd.read_csv(other / "dmos.csv")["dmos"].tolist()
        != pd.read_csv(again / "dmos.csv")["dmos"].tolist()[:20]
    )


def test_zip_is_kadid_layout_and_deterministic(tmp_path: Path, synth_root: Path) -> None:
    a = synth.write_zip(synth_root / "kadid10k", tmp_path / "a.zip")
    b = synth.write_zip(synth_root / "kadid10k", tmp_path / "b.zip")
    assert a.read_bytes() == b.read_bytes()
    names = zipfile.ZipFile(a).namelist()
    assert "kadid10k/dmos.csv" in names and "kadid10k/images/I01_01_01.png" in names


def test_kadid_scale_spec() -> None:
    spec = synth.SynthSpec.kadid_scale()
    assert spec.n_images == 10_125
    assert len(spec.type_ids()) == 25 == len(set(spec.type_ids()))
    # 81 references from 10 photos: repeats differ by crop/flip
    a = synth.make_reference(0, (64, 48))
    b = synth.make_reference(10, (64, 48))
    assert a.tobytes() != b.tobytes()


def test_bad_spec_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="types"):
        synth.SynthSpec(types=26).type_ids()
