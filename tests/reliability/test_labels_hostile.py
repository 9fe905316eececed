"""Hostile label files through normalize (KADID csv format): each gets a DataError naming the file or a
defined value the gate reports, and no label row can point outside the dataset folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.helpers import data_params
from vqr1.data import gate, labels, normalize, synth
from vqr1.errors import DataError, GateFailed

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
def test_nul_in_an_image_name_is_refused_and_printed_escaped(scorecard, tmp_path: Path) -> None:
    ws = _workspace(tmp_path, HEADER + _rows(["1", "2"]) + b"I03_01_01.png\x00,I03.png,3,0.1\n")
    with pytest.raises(DataError) as info:
        _manifest(ws)
    message = str(info.value)
    assert "dmos.csv" in message and "'I03_01_01.png\\x00'" in message and "\x00" not in message
    assert "control character" in message and not (ws / "data/manifests").exists()
    scorecard.happened = (
        "DataError naming dmos.csv, the name printed escaped ('I03_01_01.png\\x00'); no manifest"
    )


@pytest.mark.fault("label image name over 255 bytes")
def test_overlong_image_name_is_refused(scorecard, tmp_path: Path) -> None:
    name = "I03_01_" + "x" * 300 + ".png"
    ws = _workspace(tmp_path, HEADER + _rows(["1", "2"]) + f"{name},I03.png,3,0.1\n".encode())
    with pytest.raises(DataError, match=r"dmos\.csv: image name .* over 255 bytes") as info:
        _manifest(ws)
    assert len(str(info.value)) < 500
    scorecard.happened = (
        f"DataError naming dmos.csv (no OSError traceback), message {len(str(info.value))} chars"
    )


@pytest.mark.fault("0-byte dmos.csv")
def test_empty_label_file_is_refused(scorecard, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"dmos\.csv: empty label file"):
        _manifest(_workspace(tmp_path, b""))
    scorecard.happened = "DataError: <path>/dmos.csv: empty label file (0 bytes, no header)"


@pytest.mark.fault("spreadsheet formula / blank / foreign name in ref_img")
@pytest.mark.parametrize("ref", ['"=HYPERLINK(""http://x"",""I03.png"")"', "=1+1", "", "I99.png"])
def test_bogus_reference_is_refused(scorecard, tmp_path: Path, ref: str) -> None:
    ws = _workspace(tmp_path, HEADER + _rows(["1", "2"]) + f"I03_01_01.png,{ref},3,0.1\n".encode())
    with pytest.raises(DataError, match=r"dmos\.csv: row 3: reference .* names no image of the set"):
        _manifest(ws)
    scorecard.fault += f": {ref or '(empty)'}"
    scorecard.happened = "DataError naming dmos.csv and the row; no bogus reference group, no manifest"


@pytest.mark.fault("label file with a 2 MB column name / 100 kB column name")
def test_huge_label_values_never_make_huge_errors(scorecard, tmp_path: Path, monkeypatch) -> None:
    header = b"dist_img,ref_img,dmos," + b"v" * 100_000 + b"\n"
    ws = _workspace(tmp_path / "a", header + _rows(["1", "2"]))
    with pytest.raises(DataError, match="label columns do not match") as info:
        _manifest(ws)
    capped = len(str(info.value))
    assert capped < 1_000

    monkeypatch.setattr(labels, "MAX_LABEL_BYTES", 1 << 20)  # the real bound is 64 MiB
    bomb = tmp_path / "b"
    _workspace(bomb, b"dist_img,ref_img,dmos," + b"v" * (2 << 20) + b"\n")
    with pytest.raises(DataError, match="is no label file") as info:
        _manifest(bomb)
    assert len(str(info.value)) < 300
    scorecard.happened = (
        f"100 kB column name: DataError of {capped} chars (value shortened); a label file over the bound "
        f"(64 MiB; 1 MiB here) refused unread, {len(str(info.value))} chars"
    )


@pytest.mark.fault("training set whose split leaves no test images (one reference)")
def test_gate_fails_on_an_empty_split(scorecard, tmp_path: Path) -> None:
    synth.build(tmp_path / "data/raw/synthetic", synth.SynthSpec(references=1, types=2, width=64, height=48))
    data = data_params(synthetic={"references": 1, "types": 2, "width": 64, "height": 48})
    normalize.write_manifests(tmp_path, data, progress=False)
    with pytest.raises(
        GateFailed, match=r"synthetic: expect_column_distinct_values_to_contain_set on split"
    ) as info:
        gate.validate_manifests(tmp_path, data)
    assert "no rows with ['test', 'val']" in str(info.value)
    assert not (tmp_path / "data/validated").exists()
    scorecard.happened = "gate failed: split has no rows with ['test', 'val']; data/validated not written"
