"""Pipeline-level faults through the real Prefect tasks: a second run while one runs, the S3 server dying.

The storage scenario runs once per module (its own SeaweedFS, killed and restarted) and two tests read it:
what the outage did to the push and upload, and whether the generated secret reached any log or artifact.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from flows import tasks
from flows.lock import PipelineBusy, pipeline_lock
from flows.pipeline import pipeline
from prefect import flow
from prefect.client.orchestration import get_client

from tests.fixtures_storage import fake_run_workspace, kill_server
from vqr1.config import StorageParams
from vqr1.dvc_runner import dvc_bin, dvc_env
from vqr1.errors import StorageError
from vqr1.storage import artifacts, dvc_remote, s3, seaweed

BUCKET = "outage"
RUN_ID = "20260101T000000Z-0utage"
HOLDER = """
import sys, time
from pathlib import Path
from flows.lock import pipeline_lock
ws = Path(sys.argv[1])
with pipeline_lock(ws):
    (ws / "first.started").write_text("1")
    while not (ws / "first.go").exists():
        time.sleep(0.05)
    (ws / "first.done").write_text("finished")
"""


@pytest.mark.fault("second pipeline run started while one is running")
def test_second_concurrent_run_is_refused(
    scorecard,
    tmp_path: Path,
    prefect_harness: None,
) -> None:
    for name in ("dvc.yaml", "params.yaml"):  # a workspace by its files (the flow checks them first)
        (tmp_path / name).write_text("")
    first = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)])
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "first.started").exists():
            assert first.poll() is None and time.monotonic() < deadline, "the first run did not start"
            time.sleep(0.05)
        with pytest.raises(PipelineBusy, match=rf"already in progress \(pid {first.pid} since") as info:
            pipeline(str(tmp_path), push=False, echo=False)
        assert not (tmp_path / "data").exists() and not (tmp_path / "dvc.lock").exists()
    finally:
        (tmp_path / "first.go").write_text("1")
        first.wait(timeout=60)
    assert first.returncode == 0 and (tmp_path / "first.done").read_text() == "finished"
    with pipeline_lock(tmp_path):  # released when the first run ends
        pass
    scorecard.happened = f"refused at once: {str(info.value).split(': ', 1)[1][:70]}...; first run finished"


@flow(name="upload-under-outage")
def _upload_flow(workspace: str, storage_dir: str, run_id: str, retries: int) -> dict[str, Any]:
    upload = tasks.upload_run.with_options(
        retries=retries, retry_delay_seconds=[0.5 * 2**i for i in range(retries)]
    )
    return upload(workspace, storage_dir, run_id)


@flow(name="store-after-restart")
def _store_flow(workspace: str, storage_dir: str, run_id: str) -> dict[str, Any]:
    url = tasks.dvc_push(workspace, storage_dir)
    return {"dvc_remote": url, **tasks.upload_run(workspace, storage_dir, run_id)}


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and ".dvc/tmp" not in p.as_posix()
    }


@dataclass
class Outage:
    ws: Path
    storage: Path
    secret: str
    push_error: str = ""
    upload_error: str = ""
    upload_attempts: int = 0
    upload_seconds: float = 0.0
    before: dict[str, str] = field(default_factory=dict)
    after: dict[str, str] = field(default_factory=dict)
    rerun: dict[str, Any] = field(default_factory=dict)
    remote_checked: int = 0
    endpoints: tuple[str, str] = ("", "")
    remote_bad: list[str] = field(default_factory=list)


def _dvc(ws: Path, *args: str) -> None:
    subprocess.run([dvc_bin(), *args], cwd=ws, check=True, capture_output=True, env=dvc_env())


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Outage]:
    """A run workspace tracked by DVC; the S3 server is killed, push and upload fail, it restarts, rerun."""
    root = tmp_path_factory.mktemp("outage")
    storage, ws = root / "storage", root / "ws"
    seaweed.up(storage, [BUCKET])
    try:
        fake_run_workspace(ws, {"synthetic": 0.5})
        (ws / "dvc.lock").unlink()  # the fake lock names data this workspace does not hold
        raw = yaml.safe_load((ws / "params.yaml").read_text())
        raw["storage"]["bucket"] = BUCKET
        (ws / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
        (ws / "data").mkdir()
        (ws / "data" / "images.bin").write_bytes(os.urandom(256 * 1024))
        _dvc(ws, "init", "--no-scm", "-q")
        _dvc(ws, "add", "-q", "data", "models")
        writer = s3.resolve(StorageParams(bucket=BUCKET), env={}, storage_dir=storage)
        result = Outage(ws, storage, secret=writer.secret_key or "")
        dvc_remote.configure(ws, StorageParams(bucket=BUCKET), writer)
        result.before = _digests(ws)

        server = kill_server(storage)  # the server dies: no clean shutdown
        with pytest.raises(StorageError) as push:
            dvc_remote.push(ws)
        result.push_error = str(push.value)
        started = time.monotonic()
        with pytest.raises(StorageError) as upload:
            _upload_flow(str(ws), str(storage), RUN_ID, retries=1)
        result.upload_seconds = time.monotonic() - started
        result.upload_error = str(upload.value)
        with get_client(sync_client=True) as client:  # the session's Prefect database: this flow's runs only
            flow_id = client.read_flow_by_name("upload-under-outage").id
            flow_runs = {r.id for r in client.read_flow_runs() if r.flow_id == flow_id}
            runs = [r for r in client.read_task_runs() if r.flow_run_id in flow_runs]
        result.upload_attempts = max(r.run_count for r in runs)
        result.after = _digests(ws)

        restarted = seaweed.up(storage, [BUCKET])  # back, with the same credentials and ports
        result.endpoints = (server.endpoint_url, restarted.endpoint_url)
        result.rerun = _store_flow(str(ws), str(storage), RUN_ID)
        client = s3.client(s3.resolve(StorageParams(bucket=BUCKET), env={}, storage_dir=storage))
        for key in s3.list_keys(client, writer, "dvc/files/md5/"):
            body = s3.get_bytes(client, writer, key) or b""
            result.remote_checked += 1
            if hashlib.md5(body).hexdigest() != key.split("/", 3)[3].replace("/", "").removesuffix(".dir"):
                result.remote_bad.append(key)
        artifacts.download_run(client, writer, RUN_ID, root / "download")  # sha256 of every file verified
        yield result
    finally:
        seaweed.down(storage)


@pytest.mark.fault("S3 server killed before dvc push / artifact upload, then restarted")
def test_storage_outage_retries_then_fails_clearly_and_the_rerun_completes(scorecard, outage: Outage) -> None:
    assert "dvc push" in outage.push_error and "Could not connect" in outage.push_error
    assert "upload" in outage.upload_error and "Could not connect to the endpoint" in outage.upload_error
    assert outage.upload_attempts == 2 and outage.upload_seconds >= 0.5, "one retry after a 0.5 s backoff"
    assert tasks.upload_run.retries == tasks.dvc_push.retries == 2  # the production policy
    assert tasks.repro_download.retries == 0, "the download retries in its HTTP layer only"
    assert outage.after == outage.before, "the failed push changed the local DVC cache or outputs"
    assert outage.endpoints[0] == outage.endpoints[1], "the restarted server moved: config.local is stale"
    assert outage.rerun["files"] > 0 and outage.rerun["dvc_remote"] == f"s3://{BUCKET}/dvc"
    assert outage.remote_checked >= 2 and outage.remote_bad == [], outage.remote_bad
    scorecard.happened = (
        f"dvc push: clear StorageError; upload: {outage.upload_attempts} attempts with backoff, then "
        f"StorageError; {len(outage.before)} local files unchanged; restarted on the same endpoint, "
        f"push + upload ({outage.rerun['files']} files) "
        f"completed, {outage.remote_checked} DVC objects match their md5, run sha256-verified"
    )


@pytest.mark.fault("secret scan: Prefect logs and artifacts, DVC config, model card")
def test_secret_absent_from_prefect_dvc_config_and_model_card(scorecard, outage: Outage) -> None:
    from vqr1.config import load_params
    from vqr1.train import modelcard

    secret = outage.secret
    assert len(secret) >= 16
    with get_client(sync_client=True) as client:
        logs = client.read_logs()
        prefect_artifacts = client.read_artifacts()
        task_runs = client.read_task_runs()
    texts = [log.message for log in logs] + [str(a.data) for a in prefect_artifacts]
    texts += [str(r.state.message if r.state else "") for r in task_runs]
    assert logs and not [t for t in texts if secret in t]
    assert outage.push_error and secret not in outage.push_error + outage.upload_error
    config, local = outage.ws / ".dvc" / "config", outage.ws / ".dvc" / "config.local"
    assert secret not in config.read_text()  # the file a project commits
    assert secret in local.read_text() and stat.S_IMODE(local.stat().st_mode) == 0o600
    params = load_params(outage.ws / "params.yaml")
    for name in params.data.train_datasets:  # the card records each validated manifest's sha256
        (outage.ws / "data" / "validated").mkdir(parents=True, exist_ok=True)
        (outage.ws / "data" / "validated" / f"{name}.parquet").write_bytes(b"manifest")
    history = [{"step": 1, "reward": 0.5}, {"step": 2, "reward": 0.6}]
    card = modelcard.write(outage.ws / "models" / "demo", params, outage.ws, history, 2)
    assert secret not in card.read_text()
    scanned = [p for p in outage.ws.rglob("*") if p.is_file() and p != local]
    assert not [p for p in scanned if secret.encode() in p.read_bytes()]
    scorecard.happened = (
        f"secret in 0 of {len(logs)} Prefect logs, {len(prefect_artifacts)} artifacts, {len(task_runs)} task "
        f"states, {len(scanned)} workspace files (committed .dvc/config, model card); "
        "only in config.local (600)"
    )
