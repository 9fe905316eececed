"""Hostile label files through normalize (KADID csv format): each gets a DataError naming the file or a
defined value the gate reports, and no label row can point outside the dataset folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.helpers import data_params
from vqr1.data import gate, normalize
from vqr1.errors import DataError

HEADER = b"dist_img,ref_img,dmos,var\n"


def _rows(values: list[str]) -> bytes:
    return b"".join(f"I0{i}_01_01.png,I0{i}.png,{v},0.1\n".encode() for i, v in enumerate(values, 1))


def _workspace(root: Path, label: bytes) -> Path:
    images = root / "data/raw/synthetic/kadid10k/images"
    images.mkdir(parents=True)
    for i in range(1, 8):
        (images / f"I0{i}_01_01.png").write_bytes(b"png")
    (images.parent / "dmos.csv").write_bytes(label)
    return root


def _manifest(ws: Path):
    return normalize.build_manifest(ws, "synthetic", data_params(), progress=False)


@pytest.mark.fault("label file: injected separator / wrong encoding")
@pytest.mark.parametrize(
    ("case", "label", "problem"),
    [
        (
            "unquoted ',' in a name",
            HEADER + _rows(["1", "2"]) + b"I03_01_01.png,x,I03.png,3,0.1\n",
            "malformed csv",
        ),
        ("UTF-16", (HEADER + _rows(["1", "2", "3"])).decode().encode("utf-16"), "not UTF-8"),
        (
            "latin-1",
            HEADER + _rows(["1", "2"]) + "I03_01_01.png,I03é.png,3,0.1\n".encode("latin-1"),
            "not UTF-8",
        ),
    ],
)
def test_malformed_label_files_fail_naming_the_file(
    scorecard, tmp_path: Path, case: str, label: bytes, problem: str
) -> None:
    ws = _workspace(tmp_path, label)
    with pytest.raises(DataError, match=rf"synthetic: .*dmos\.csv: {problem}") as info:
        _manifest(ws)
    assert not (ws / "data/manifests").exists()
    scorecard.fault += f": {case}"
    scorecard.happened = "DataError: " + str(info.value).split("dmos.csv: ", 1)[1][:70]


@pytest.mark.fault("label row naming a file outside the set (quoted ',' + '../..', absolute path)")
@pytest.mark.parametrize(
    "name", ['"I03_01_01.png,../../../../../etc/passwd"', "/etc/passwd", "..\\..\\x.png"]
)
def test_label_rows_cannot_point_outside_the_dataset(scorecard, tmp_path: Path, name: str) -> None:
    ws = _workspace(tmp_path, HEADER + _rows(["1", "2"]) + f"{name},I03.png,3,0.1\n".encode())
    with pytest.raises(DataError, match="leaves the dataset folder"):
        _manifest(ws)
    scorecard.fault += f": {name}"
    scorecard.happened = "DataError: image name leaves the dataset folder; no manifest"


@pytest.mark.fault("label MOS written as nan / inf / -inf / 1e309 / text")
def test_non_finite_mos_becomes_missing_for_the_gate(scorecard, tmp_path: Path) -> None:
    values = ["1", "nan", "inf", "-inf", "1e309", "text", "5"]
    frame = _manifest(_workspace(tmp_path, HEADER + _rows(values)))
    assert frame["mos_raw"].isna().tolist() == [False, True, True, True, True, True, False]
    assert frame["mos"].dropna().tolist() == [1.0, 5.0]  # the 1-5 scale comes from the finite values
    scorecard.happened = (
        "non-finite MOS -> NaN (the gate's not-null check reports the rows); scale from finite values"
    )


@pytest.mark.fault("label image name with a NUL byte")
def test_nul_in_an_image_name_is_reported_missing(scorecard, tmp_path: Path) -> None:
    ws = _workspace(tmp_path, HEADER + _rows(["1", "2"]) + b"I03_01_01.png\x00,I03.png,3,0.1\n")
    frame = _manifest(ws)
    checks = gate.inspect_image(ws / frame["image"].iloc[2], data_params().gate)
    assert checks == (False, None, None, None, "file not found")
    scorecard.happened = "row kept; the gate reports the image as missing (file not found)"
