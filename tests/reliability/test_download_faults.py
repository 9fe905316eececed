"""Download faults against a local HTTP server: a cut transfer resumes, a swapped file is not extracted."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from flows import tasks
from prefect import flow
from urllib3.exceptions import ConnectTimeoutError

from tests.data.helpers import data_params
from tests.data.http_server import serve
from tests.data.test_stages import _workspace
from vqr1.config import DownloadParams
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


@pytest.mark.fault("mirror serves a wrong archive (no label file), then the source is fixed")
def test_a_refused_download_is_neither_locked_nor_kept(scorecard, tmp_path: Path, synth_zip: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    served = site / synth_zip.name
    with zipfile.ZipFile(served, "w") as zf:
        zf.writestr("kadid10k/readme.txt", "images moved elsewhere")
    ws = tmp_path / "ws"
    kept = ws / "data/archives/synthetic" / synth_zip.name
    with serve(site) as (base, log):
        data = data_params(sources={"synthetic": {"url": f"{base}/{synth_zip.name}"}})
        with pytest.raises(DataError, match=r"label file 'dmos\.csv' not found"):
            download.fetch("synthetic", ws, data, progress=False)
        assert not (ws / download.LOCK_FILE).exists(), "a refused file entered the lock"
        assert not kept.exists(), "a refused download was kept: the next run would not fetch again"
        shutil.copy(synth_zip, served)  # the mirror is fixed
        download.fetch("synthetic", ws, data, progress=False)
    assert len(log.requests) == 2, "the fixed file was fetched anew"
    assert download.read_lock(ws) == {"synthetic": {synth_zip.name: _sha(synth_zip)}}
    scorecard.happened = (
        "DataError (no dmos.csv); the file deleted and nothing locked; after the fix the next run fetched "
        "again and locked the good file's sha256"
    )


@pytest.mark.fault("mirror answers 503 twice, then serves the file")
def test_an_overloaded_mirror_is_retried_by_the_http_layer(
    scorecard, tmp_path: Path, synth_zip: Path
) -> None:
    path = f"/{synth_zip.name}"
    with serve(synth_zip.parent, statuses={path: [503, 503]}) as (base, log):
        data = data_params(sources={"synthetic": {"url": f"{base}{path}"}})
        folder = download.fetch("synthetic", tmp_path, data, progress=False)
    assert len(log.requests) == 3 and (folder / "kadid10k/dmos.csv").is_file()
    scorecard.happened = "urllib3 Retry on the session: 3 requests (503, 503, 200), set extracted"


@flow(name="download-dead-mirror")
def _download_flow(workspace: str) -> None:
    tasks.repro(workspace, "sources", echo=False)  # as the pipeline flow does
    tasks.repro_download(workspace, "download", echo=False)


@pytest.mark.fault("dead mirror (always 503) under the Prefect pipeline's download task")
def test_retries_do_not_stack_against_a_dead_mirror(scorecard, tmp_path: Path, prefect_harness: None) -> None:
    path = "/kadid10k.zip"
    retries = 2
    with serve(tmp_path, statuses={path: [503] * 100}) as (base, log):
        ws = _workspace(
            tmp_path,
            {
                "sources": {"synthetic": {"url": f"{base}{path}"}},
                "download": {"retries": retries, "backoff_s": 0.05},
            },
        )
        with pytest.raises(
            tasks.StageFailed, match=rf"HTTP 503 from {base}{path} after {retries + 1} attempts"
        ):
            _download_flow(str(ws))
    assert len(log.requests) == retries + 1, f"{len(log.requests)} requests: a second layer retried"
    waits = _production_waits()
    scorecard.happened = (
        f"{len(log.requests)} requests (= 1 + {retries} HTTP retries), the task failed once without its own "
        f"retry; production policy: {DownloadParams().retries} HTTP retries waiting "
        f"{' + '.join(f'{w:g}' for w in waits)} = {sum(waits):g} s in all against a dead mirror"
    )


def _production_waits() -> list[float]:
    """The backoff of the production Retry object, step by step, as urllib3 computes it."""
    retry = download.session(DownloadParams()).get_adapter("https://x").max_retries
    waits = []
    for _ in range(retry.total):
        retry = retry.increment(method="GET", url="/", error=ConnectTimeoutError("dead mirror"))
        waits.append(retry.get_backoff_time())
    return waits
