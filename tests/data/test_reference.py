"""The reference repository's label files as ground truth, and the paper's KADID-10K split lists.

Fixtures follow the real files' line formats (github TianheWu/VisualQuality-R1 at a16dcdb6,
``datasets/``): ``test_data_label/<Set>_test_all.txt`` and ``KADID-10K/KADID-10K_<split>_set.txt`` with
lines ``I01.png I01_01_01.png mos std`` (the reference image first). See tests/data/real_layouts.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.data import real_layouts
from tests.data.helpers import data_params
from tests.data.http_server import serve
from vqr1.config import REFERENCE_LABELS_URL, load_params
from vqr1.data import catalogue, download, normalize, reference, splits
from vqr1.errors import DataError

PAPER_SETS = [
    "kadid10k",
    "koniq10k",
    "spaq",
    "live_challenge",
    "bid",
    "agiqa3k",
    "sriqa_bench",
    "deblurring",
    "dehazing",
]


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> real_layouts.Layouts:
    return real_layouts.build_all(tmp_path_factory.mktemp("layouts"))


def _workspace(root: Path, layouts: real_layouts.Layouts, names: list[str]) -> Path:
    for name in names:
        real_layouts.extracted(layouts[name], root / "data" / "raw" / name)
    return root


def _data(layouts: real_layouts.Layouts, **overrides: object) -> object:
    base = {
        "datasets": ["kadid10k"],
        "train_datasets": ["kadid10k"],
        "eval_datasets": ["kadid10k"],
        "split": {"method": "paper_lists"},
        "reference_labels": {"dir": str(layouts.reference_dir)},
    }
    return data_params(**(base | overrides))


def test_paper_lists_read_the_distorted_image_not_the_reference(
    layouts: real_layouts.Layouts, tmp_path: Path
) -> None:
    ws = _workspace(tmp_path, layouts, ["kadid10k"])
    frame = normalize.build_manifest(ws, "kadid10k", _data(layouts), progress=False)
    by_ref = frame.groupby("ref_id")["split"].agg(set).to_dict()
    assert by_ref == {"I01": {"train"}, "I02": {"train"}, "I03": {"train"}, "I04": {"val"}, "I05": {"test"}}
    assert len(frame) == 20 and not frame["image"].str.endswith(("I01.png", "I05.png")).any()
    native = normalize.build_manifest(ws, "kadid10k", _data(layouts, labels="native"), progress=False)
    assert set(zip(native["image"], native["split"], strict=True)) == set(
        zip(frame["image"], frame["split"], strict=True)
    ), "dmos.csv (native labels) and the lists (reference labels) get the same split"


def test_paper_lists_fetched_from_a_pinned_url_and_locked(
    layouts: real_layouts.Layouts, tmp_path: Path
) -> None:
    ws = _workspace(tmp_path / "ws", layouts, ["kadid10k"])
    with serve(layouts.reference_dir) as (url, log):
        data = _data(layouts, reference_labels={"url": url})
        frame = normalize.build_manifest(ws, "kadid10k", data, progress=False)
        normalize.build_manifest(ws, "kadid10k", data, progress=False)
    assert sorted(p for p, _ in log.requests) == sorted(f"/{rel}" for rel in catalogue.KADID_LISTS.values())
    lock = download.read_lock(ws)[reference.LOCK_KEY]
    assert set(lock) == {Path(rel).name for rel in catalogue.KADID_LISTS.values()}
    assert set(frame["split"]) == {"train", "val", "test"}

    fetched = ws / reference.FETCHED_DIR / catalogue.KADID_LISTS["val"]
    fetched.write_text(fetched.read_text().replace("I04_01_01.png", "I04_01_02.png", 1))
    with pytest.raises(DataError, match="checksum mismatch"):
        normalize.build_manifest(ws, "kadid10k", data, progress=False)


def test_an_image_in_two_lists_is_an_error(layouts: real_layouts.Layouts, tmp_path: Path) -> None:
    lists = tmp_path / "datasets"
    for rel in catalogue.KADID_LISTS.values():
        (lists / rel).parent.mkdir(parents=True, exist_ok=True)
        (lists / rel).write_text("I01.png I01_01_01.png 4.6 0.7\n")
    data = _data(layouts, reference_labels={"dir": str(lists)})
    with pytest.raises(DataError, match=r"I01_01_01\.png is listed in both train and val"):
        splits.paper_lists(tmp_path, data, progress=False)


@pytest.mark.parametrize("name", PAPER_SETS)
def test_reference_labels_are_the_manifest_ground_truth(
    name: str, layouts: real_layouts.Layouts, tmp_path: Path
) -> None:
    """Labels from the reference file, images from the set's own archive, on the reference file's scale."""
    ws = _workspace(tmp_path, layouts, [name])
    data = _data(layouts, datasets=[name], train_datasets=[], eval_datasets=[name])
    frame = normalize.build_manifest(ws, name, data, progress=False)
    first = 1 if name in ("kadid10k", "sriqa_bench", "deblurring", "dehazing") else 0  # `ref name mos` lines
    rows = [
        line.split()
        for rel in catalogue.get(name).reference.files
        for line in (layouts.reference_dir / rel).read_text().splitlines()
    ]
    assert [Path(p).name for p in frame["image"]] == [r[first] for r in rows]
    assert frame["mos_raw"].tolist() == [float(r[first + 1]) for r in rows]
    assert all((ws / p).is_file() for p in frame["image"]) and (frame["split"] == "test").all()
    lo, hi = catalogue.mos_range(catalogue.get(name), "reference")
    assert frame["mos_raw"].between(lo, hi + 1e-9).all() and frame["mos"].between(1, 5).all()


def test_a_malformed_reference_line_names_file_and_line(
    layouts: real_layouts.Layouts, tmp_path: Path
) -> None:
    path = tmp_path / "datasets" / catalogue.get("bid").reference.files[0]
    path.parent.mkdir(parents=True)
    path.write_text("DatabaseImage0001.JPG 52.3\nDatabaseImage0003.JPG 81.7 12.0\n")
    data = _data(layouts, reference_labels={"dir": str(tmp_path / "datasets")})
    with pytest.raises(
        DataError, match=r"bid: .*BID_test_all\.txt:2: expected 2 fields \(image mos\), got 3"
    ):
        reference.table(tmp_path, catalogue.get("bid"), data, progress=False)


def test_the_committed_paper_profile_pins_every_reference_file() -> None:
    """params.yaml names a commit (never a branch), and the committed lock holds every file's sha256."""
    params = load_params(REPO / "params.yaml")
    assert params.data.reference_labels.url == REFERENCE_LABELS_URL
    assert re.search(r"/VisualQuality-R1/[0-9a-f]{40}/datasets$", REFERENCE_LABELS_URL)
    lock = download.read_lock(REPO)[reference.LOCK_KEY]
    named = {Path(f).name for n in PAPER_SETS for f in catalogue.get(n).reference.files}
    assert set(lock) == named and all(re.fullmatch(r"[0-9a-f]{64}", v) for v in lock.values())
    assert params.data.labels == "reference" and params.data.split.method == "paper_lists"
