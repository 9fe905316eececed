"""Manifests: contract columns, [1, 5] rescale with DMOS flipped, and deterministic reference splits."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.data.helpers import data_params
from vqr1.data import catalogue, normalize, splits
from vqr1.errors import DataError


@pytest.fixture
def ws(tmp_path: Path, synth_root: Path) -> Path:
    """A workspace whose data/raw/synthetic holds the conftest synthetic set."""
    shutil.copytree(synth_root, tmp_path / "data/raw/synthetic")
    return tmp_path


def test_manifest_contract(ws: Path) -> None:
    [path] = normalize.write_manifests(ws, data_params(), progress=False)
    frame = pd.read_parquet(path)
    assert path == ws / "data/manifests/synthetic.parquet"
    assert list(frame.columns) == normalize.MANIFEST_COLUMNS
    assert frame["image"].str.startswith("data/raw/synthetic/kadid10k/images/I").all()
    assert all((ws / p).is_file() for p in frame["image"])
    assert frame["mos"].min() == pytest.approx(1.0) and frame["mos"].max() == pytest.approx(5.0)
    assert frame["mos"].corr(frame["mos_raw"]) == pytest.approx(1.0)
    assert set(frame["split"]) == {"train", "val", "test"}
    assert (frame.groupby("ref_id")["split"].nunique() == 1).all()


def test_evaluation_sets_are_used_whole(ws: Path) -> None:
    data = data_params(train_datasets=[], eval_datasets=["synthetic"])
    frame = normalize.build_manifest(ws, "synthetic", data, progress=False)
    assert (frame["split"] == "test").all() and len(frame) == 240


def test_dmos_sets_are_flipped() -> None:
    raw = pd.Series([0.0, 25.0, 100.0])
    assert normalize.rescale(raw, catalogue.get("live")).tolist() == [5.0, 4.0, 1.0]
    assert normalize.rescale(raw, catalogue.get("spaq")).tolist() == [1.0, 2.0, 5.0]
    with pytest.raises(DataError, match="spaq: cannot rescale MOS"):
        normalize.rescale(pd.Series([3.0, 3.0]), catalogue.get("spaq"))


def test_kadid_scale_split_sizes_and_determinism() -> None:
    refs = pd.Series([f"I{r:02d}" for r in range(1, 82) for _ in range(125)])
    a = splits.by_group(refs, (0.6, 0.2, 0.2), seed=42)
    assert a.value_counts().to_dict() == {"train": 6125, "val": 2000, "test": 2000}
    shuffled = refs.sample(frac=1.0, random_state=0)
    b = splits.by_group(shuffled, (0.6, 0.2, 0.2), seed=42)
    assert (b.sort_index() == a).all(), "the split must not depend on row order"
    c = splits.by_group(refs, (0.6, 0.2, 0.2), seed=7)
    assert not (c == a).all()
    assert splits.split_counts(3, (0.6, 0.2, 0.2)) == (2, 1, 0)


def test_image_absent_from_paper_lists_is_an_error() -> None:
    images = pd.Series(["data/raw/k/I01_01_01.png", "data/raw/k/I02_01_01.png"])
    with pytest.raises(DataError, match="kadid10k: 1 images are in none of the paper split lists"):
        splits.apply_lists(images, {"I01_01_01.png": "train"}, "kadid10k")


def test_missing_raw_folder_names_the_stage(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"synthetic: .* does not exist; run the download stage first"):
        normalize.write_manifests(tmp_path, data_params(), progress=False)
    assert not (tmp_path / "data/manifests").exists()


def test_nan_mos_is_kept_for_the_gate(ws: Path) -> None:
    labels = ws / "data/raw/synthetic/kadid10k/dmos.csv"
    frame = pd.read_csv(labels)
    frame.loc[3, "dmos"] = np.nan
    frame.to_csv(labels, index=False)
    out = normalize.build_manifest(ws, "synthetic", data_params(), progress=False)
    assert out["mos_raw"].isna().sum() == 1 and out["mos"].isna().sum() == 1
