"""The S3 server killed in the middle of a multipart upload and of a ranged download (real SeaweedFS).

The kill is timed with boto3's own event hooks (``before-send``): when the second part of the transfer is
about to go out, the server process gets SIGKILL, so the transfer is always cut half-way, never before or
after it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.fixtures_storage import fake_run_workspace, kill_server
from vqr1.config import Params, StorageParams
from vqr1.errors import StorageError
from vqr1.fsutil import sha256_file
from vqr1.storage import artifacts, s3, seaweed

BUCKET = "midtransfer"
WEIGHTS_MB = 20  # three 8 MiB parts at boto3's default multipart settings


def kill_on_second(client: Any, event: str, storage: Path) -> list[str]:
    """Kill the server when the second ``event`` request of ``client`` is about to be sent."""
    seen: list[str] = []

    def handler(request: Any, **_: Any) -> None:
        seen.append(request.url)
        if len(seen) == 2:
            kill_server(storage)

    client.meta.events.register(f"before-send.s3.{event}", handler)
    return seen


class BigRun(NamedTuple):
    storage: Path
    writer: s3.S3Settings
    ws: Path
    params: Params
    run_id: str


@pytest.fixture
def big_run(tmp_path: Path) -> Iterator[BigRun]:
    """A server of its own (the tests kill it) and a finished-run workspace with multipart-sized weights."""
    storage, ws = tmp_path / "storage", tmp_path / "ws"
    seaweed.up(storage, [BUCKET])
    try:
        params = fake_run_workspace(ws, {"synthetic": 0.5})
        weights = ws / "models" / "demo" / "adapter" / "adapter_model.safetensors"
        weights.write_bytes(os.urandom(WEIGHTS_MB * 2**20))
        writer = s3.resolve(StorageParams(bucket=BUCKET), env={}, storage_dir=storage)
        yield BigRun(storage, writer, ws, params, artifacts.new_run_id())
    finally:
        seaweed.down(storage)


@pytest.mark.fault("S3 server killed during a multipart upload, then restarted")
def test_upload_cut_half_way_leaves_no_complete_run_and_a_retry_completes(
    scorecard, big_run: BigRun, tmp_path: Path
) -> None:
    storage, writer, ws, params, run_id = big_run
    before = {p: sha256_file(p) for p in ws.rglob("*") if p.is_file()}

    client = s3.client(writer)
    parts = kill_on_second(client, "UploadPart", storage)
    started = time.monotonic()
    with pytest.raises(StorageError) as cut:
        artifacts.upload_run(client, writer, ws, params, run_id)
    failed_after = time.monotonic() - started
    assert len(parts) >= 2, "the kill was meant to land inside the multipart upload"
    assert "adapter_model.safetensors" in str(cut.value) and writer.endpoint_url in str(cut.value)
    assert {p: sha256_file(p) for p in ws.rglob("*") if p.is_file()} == before

    seaweed.up(storage, [BUCKET])  # same ports and credentials
    fresh = s3.client(writer)
    assert run_id not in artifacts.list_runs(fresh, writer), "a cut upload must not look complete"
    with pytest.raises(StorageError, match="no manifest"):
        artifacts.download_run(fresh, writer, run_id, tmp_path / "half")
    assert not (tmp_path / "half").exists()

    manifest = artifacts.upload_run(fresh, writer, ws, params, run_id)
    assert run_id in artifacts.list_runs(fresh, writer)
    artifacts.download_run(fresh, writer, run_id, tmp_path / "whole")  # every sha256 checked
    got = tmp_path / "whole" / "models" / "demo" / "adapter" / "adapter_model.safetensors"
    assert got.stat().st_size == WEIGHTS_MB * 2**20
    scorecard.happened = (
        f"killed as part 2 of a {WEIGHTS_MB} MB upload went out ({len(parts)} part requests with retries); "
        f"StorageError after {failed_after:.1f} s naming the file and endpoint; no manifest, so the run is "
        f"not listed and cannot be downloaded; local files unchanged; after restart the rerun uploaded "
        f"{len(manifest.files)} files, sha256-verified"
    )


@pytest.mark.fault("S3 server killed during a ranged download into an existing folder")
def test_download_cut_half_way_keeps_the_previous_copy(scorecard, big_run: BigRun, tmp_path: Path) -> None:
    storage, writer, ws, params, run_id = big_run
    artifacts.upload_run(s3.client(writer), writer, ws, params, run_id)
    dest = tmp_path / "champion"
    artifacts.download_run(s3.client(writer), writer, run_id, dest)  # the copy fetched last time
    previous = {p.relative_to(dest): p.read_bytes() for p in dest.rglob("*") if p.is_file()}

    client = s3.client(writer)
    gets = kill_on_second(client, "GetObject", storage)
    with pytest.raises(StorageError) as cut:
        artifacts.download_run(client, writer, run_id, dest)
    assert len(gets) >= 2
    assert writer.endpoint_url in str(cut.value)
    now = {p.relative_to(dest): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert now == previous, "a half download changed the previous copy"
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(f".{dest.name}")]
    assert leftovers == [], f"temporary download folders left behind: {leftovers}"

    seaweed.up(storage, [BUCKET])
    artifacts.download_run(s3.client(writer), writer, run_id, dest)
    assert (dest / "reports" / "eval" / "metrics.json").is_file()
    assert json.loads((dest / artifacts.DOWNLOAD_MARKER).read_text())["run_id"] == run_id
    scorecard.happened = (
        f"killed as ranged GET 2 went out ({len(gets)} GETs with retries): StorageError naming the "
        "endpoint; the previous copy untouched, no temp folder left; after restart the download replaced "
        "it whole"
    )
