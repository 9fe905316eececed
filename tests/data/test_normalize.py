"""Manifests: contract columns, [1, 5] rescale with DMOS flipped, and deterministic reference splits."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.data.helpers import data_params
from tests.data.http_server import serve
from vqr1.data import catalogue, download, normalize, splits
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


def _write_lists(folder: Path, frame: pd.DataFrame) -> dict[str, str]:
    """KADID-style lists over the frame's images, one `name score` line each (the assumed format)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [Path(p).name for p in frame["image"]]
    truth = {n: ("train", "val", "test")[i % 3] for i, n in enumerate(names)}
    for split, fname in splits.LIST_FILES.items():
        lines = [f"{n} 3.0" for n in names if truth[n] == split]
        (folder / fname).write_text("\n".join(lines) + "\n")
    return truth


def test_paper_lists_local_and_fetched(ws: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    base = normalize.build_manifest(ws, "synthetic", data_params(), progress=False)
    lists = tmp_path_factory.mktemp("lists")
    truth = _write_lists(lists, base)
    local = data_params(split={"method": "paper_lists", "lists_dir": str(lists)})
    frame = normalize.build_manifest(ws, "synthetic", local, progress=False)
    assert [truth[Path(p).name] for p in frame["image"]] == frame["split"].tolist()
    lock = download.read_lock(ws)[splits.LISTS_LOCK_KEY]
    assert set(lock) == set(splits.LIST_FILES.values())

    with serve(lists) as (url, log):
        fetched = data_params(split={"method": "paper_lists", "lists_url": url})
        again = normalize.build_manifest(ws, "synthetic", fetched, progress=False)
    assert again["split"].tolist() == frame["split"].tolist() and len(log.requests) == 3

    (ws / "data/splits/kadid10k" / splits.LIST_FILES["val"]).write_text("I01_01_01.png 3.0\n")
    with pytest.raises(DataError, match="checksum mismatch"):
        normalize.build_manifest(ws, "synthetic", fetched, progress=False)


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
