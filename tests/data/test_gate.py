"""The Great Expectations gate: a clean set passes; each kind of bad data fails with a readable report."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.data.helpers import data_params
from vqr1.data import gate, normalize
from vqr1.errors import DataError, GateFailed


@pytest.fixture(scope="module")
def passed_ws(tmp_path_factory: pytest.TempPathFactory, synth_root: Path) -> Path:
    """A workspace where normalize and the gate have run and passed."""
    ws = tmp_path_factory.mktemp("gate")
    shutil.copytree(synth_root, ws / "data/raw/synthetic")
    normalize.write_manifests(ws, data_params(), progress=False)
    gate.validate_manifests(
        Path(os.path.relpath(ws)), data_params()
    )  # a relative root works (GX needs absolute paths)
    return ws


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_clean_set_passes(passed_ws: Path) -> None:
    summary = json.loads((passed_ws / "reports/gate/summary.json").read_text())
    assert summary["success"] is True and summary["datasets"]["synthetic"]["rows"] == 240
    assert summary["datasets"]["synthetic"]["failed"] == []
    assert (passed_ws / "reports/gate/index.html").is_file()
    assert list((passed_ws / "reports/gate/validations").rglob("*.html")), "GX Data Docs page per validation"
    validated = pd.read_parquet(passed_ws / "data/validated/synthetic.parquet")
    assert list(validated.columns) == [*normalize.MANIFEST_COLUMNS, "width", "height", "sha256"]
    first = passed_ws / validated["image"][0]
    assert validated["sha256"][0] == hashlib.sha256(first.read_bytes()).hexdigest()
    assert (validated["width"] == 128).all() and (validated["height"] == 96).all()


def _bomb_png() -> bytes:
    """A 22 kB PNG of 15000x12000 pixels: PIL refuses it as a decompression bomb."""
    buf = io.BytesIO()
    Image.new("1", (15000, 12000)).save(buf, "PNG")
    return buf.getvalue()


def test_bad_data_fails_with_every_problem_reported(passed_ws: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(passed_ws, ws)
    manifest_path = ws / "data/manifests/synthetic.parquet"
    m = pd.read_parquet(manifest_path)
    img = lambda i: ws / m.loc[i, "image"]  # noqa: E731
    m.loc[0, ["mos_raw", "mos"]] = np.nan  # NaN MOS
    m.loc[1, "mos_raw"] = 7.0  # raw MOS outside the catalogued 1-5
    m.loc[2, "image"] = m.loc[3, "image"]  # duplicate image name
    img(4).unlink()  # listed image missing
    img(5).write_bytes(img(5).read_bytes()[:300])  # corrupt (truncated) image
    img(6).write_bytes(_bomb_png())  # decompression bomb
    m.loc[7, "split"] = "val" if m.loc[7, "split"] != "val" else "train"  # a reference in two splits
    m = m.drop(index=239)  # row count no longer the expected 240
    m.to_parquet(manifest_path, index=False)
    before = _digest(ws / "data/validated/synthetic.parquet")

    with pytest.raises(GateFailed) as info:
        gate.validate_manifests(ws, data_params())
    message = str(info.value)
    summary = json.loads((ws / "reports/gate/summary.json").read_text())
    failed = {(f["expectation"], f["column"]): f for f in summary["datasets"]["synthetic"]["failed"]}
    assert summary["success"] is False
    expected = {
        ("expect_column_values_to_not_be_null", "mos_raw"),
        ("expect_column_values_to_not_be_null", "mos"),
        ("expect_column_values_to_be_between", "mos_raw"),
        ("expect_column_values_to_be_unique", "image"),
        ("expect_column_values_to_be_in_set", "file_exists"),
        ("expect_column_values_to_be_in_set", "decodes"),
        ("expect_column_values_to_be_between", "ref_splits"),
        ("expect_table_row_count_to_equal", None),
    }
    assert set(failed) == expected
    decode_errors = {
        e["image"]: e["error"] for e in failed[("expect_column_values_to_be_in_set", "decodes")]["examples"]
    }
    assert "truncated" in decode_errors[m.loc[5, "image"]].lower()
    assert "decompression bomb" in decode_errors[m.loc[6, "image"]]
    missing = failed[("expect_column_values_to_be_in_set", "file_exists")]["examples"]
    assert missing == [{"file_exists": False, "image": m.loc[4, "image"], "error": "file not found"}]
    assert failed[("expect_column_values_to_be_between", "mos_raw")]["examples"][0]["mos_raw"] == 7.0
    assert failed[("expect_table_row_count_to_equal", None)]["observed_value"] == 239
    assert (
        message.count("synthetic: expect_") == len(expected)
        and f"{m.loc[5, 'image']} (does not decode" in message
    )
    assert (ws / "reports/gate/index.html").is_file()
    assert _digest(ws / "data/validated/synthetic.parquet") == before, "earlier outputs stay untouched"


def test_missing_manifest_columns_fail_the_gate(passed_ws: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(passed_ws / "data/raw", ws / "data/raw")
    manifest = pd.read_parquet(passed_ws / "data/manifests/synthetic.parquet").drop(columns=["split"])
    (ws / "data/manifests").mkdir(parents=True)
    manifest.to_parquet(ws / "data/manifests/synthetic.parquet")
    with pytest.raises(GateFailed, match="synthetic: expect_table_columns_to_match_set"):
        gate.validate_manifests(ws, data_params())
    assert not (ws / "data/validated").exists()


def test_missing_manifest_names_the_stage(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"synthetic: manifest .* not found; run the normalize stage"):
        gate.validate_manifests(tmp_path, data_params())


def test_inspect_image_bounds(tmp_path: Path) -> None:
    small = tmp_path / "small.png"
    Image.new("RGB", (40, 30)).save(small)
    params = data_params(gate={"max_pixels": 1000}).gate
    exists, decodes, width, height, error = gate.inspect_image(small, params)
    assert (exists, decodes, width, height) == (True, False, 40, 30) and "max_pixels" in error
    assert gate.inspect_image(small, data_params().gate) == (True, True, 40, 30, "")


@pytest.mark.parametrize("full_decode", [False, True])
def test_corrupt_png_fails_in_both_decode_modes(tmp_path: Path, full_decode: bool) -> None:
    rng = np.random.default_rng(0)
    good = tmp_path / "good.png"
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(good)
    data = bytearray(good.read_bytes())
    idat = data.index(b"IDAT")
    flipped, cut = tmp_path / "flipped.png", tmp_path / "cut.png"
    data[idat + 100] ^= 0xFF  # bit rot inside the compressed pixels
    flipped.write_bytes(bytes(data))
    cut.write_bytes(good.read_bytes()[: len(data) // 2])
    params = data_params(gate={"full_decode": full_decode}).gate
    assert gate.inspect_image(good, params) == (True, True, 64, 48, "")
    for bad in (flipped, cut):
        exists, decodes, _, _, error = gate.inspect_image(bad, params)
        assert (exists, decodes) == (True, False) and error.startswith("does not decode"), (bad, error)
