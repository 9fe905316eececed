"""Download faults against a local HTTP server: a cut transfer resumes, a swapped file is not extracted."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.data.helpers import data_params
from tests.data.http_server import serve
from vqr1.data import download
from vqr1.errors import DataError


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")
    }


@pytest.mark.fault("download connection cut mid-file")
def test_interrupted_transfer_resumes_with_range(scorecard, tmp_path: Path, synth_zip: Path) -> None:
    with serve(synth_zip.parent, cut_first=True) as (base, log):
        data = data_params(sources={"synthetic": {"url": f"{base}/{synth_zip.name}"}})
        folder = download.fetch("synthetic", tmp_path, data, progress=False)
    ranges = [r for _, r in log.requests]
    assert ranges[0] is None and ranges[1] is not None, ranges
    resumed_at = int(ranges[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at < synth_zip.stat().st_size
    kept = tmp_path / "data/archives/synthetic" / synth_zip.name
    assert _sha(kept) == _sha(synth_zip) and not kept.with_name(kept.name + ".part").exists()
    labels = pd.read_csv(folder / "kadid10k" / "dmos.csv")
    assert len(labels) == 240 and (folder / "kadid10k/images" / labels["dist_img"][0]).is_file()
    lock = yaml.safe_load((tmp_path / download.LOCK_FILE).read_text())
    assert lock == {"synthetic": {synth_zip.name: _sha(synth_zip)}}
    scorecard.happened = (
        f"rerun sent Range {ranges[1]} ({resumed_at:,} of {synth_zip.stat().st_size:,} bytes kept), "
        "sha256 matches, 240 labels extracted"
    )


@pytest.mark.fault("mirror serves a different file than the locked checksum")
def test_lock_catches_a_changed_mirror_file(scorecard, tmp_path: Path, synth_zip: Path) -> None:
    served = tmp_path / "mirror"
    served.mkdir()
    shutil.copy(synth_zip, served / synth_zip.name)
    ws = tmp_path / "ws"
    raw = ws / "data/raw"
    with serve(served) as (base, _):
        data = data_params(sources={"synthetic": {"url": f"{base}/{synth_zip.name}"}})
        download.fetch("synthetic", ws, data, progress=False)
        before = _snapshot(raw)
        (ws / "data/archives/synthetic" / synth_zip.name).unlink()
        with open(served / synth_zip.name, "ab") as f:
            f.write(b"tampered")
        with pytest.raises(DataError, match=r"synthetic: checksum mismatch .*datasets\.lock\.yaml"):
            download.fetch("synthetic", ws, data, progress=False)
    assert not (ws / "data/archives/synthetic" / synth_zip.name).exists(), "a bad file must not be kept"
    assert _snapshot(raw) == before, "nothing may be extracted from a file that fails its checksum"
    scorecard.happened = (
        "DataError checksum mismatch naming datasets.lock.yaml; file deleted, data/raw untouched"
    )
