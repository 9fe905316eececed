"""Secrets: the generated S3 credentials appear in no log, manifest, uploaded object or model card; the env
file is mode 600; the embedded server listens on loopback only."""

from __future__ import annotations

import stat
from pathlib import Path

import psutil
import pytest

from tests.fixtures_storage import fake_run_workspace
from vqr1.storage import artifacts, s3, seaweed


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.fault("secret scan: server logs, uploaded run + manifest, env file mode, bind address")
def test_generated_secret_leaks_nowhere(scorecard, seaweed_server, s3_bucket, tmp_path: Path) -> None:
    writer, _ = s3_bucket
    secret = writer.secret_key
    assert secret and len(secret) >= 16
    ws = tmp_path / "ws"
    params = fake_run_workspace(ws, {"synthetic": 0.5})
    client = s3.client(writer)
    artifacts.upload_run(client, writer, ws, params, "20260101T000000Z-abcdef")
    uploaded = [
        client.get_object(Bucket=writer.bucket, Key=o["Key"])["Body"].read()
        for o in client.list_objects_v2(Bucket=writer.bucket)["Contents"]
    ]
    assert not any(secret.encode() in body for body in uploaded)
    assert secret not in repr(writer)
    local = _files_under(ws)
    assert not any(secret.encode() in p.read_bytes() for p in local)
    storage = Path(seaweed_server.storage_dir)
    # SeaweedFS's own files (logs, metadata, volumes, admin job records): none may hold the secret.
    server_files = _files_under(storage / "data")
    assert server_files
    assert not any(secret.encode() in p.read_bytes() for p in server_files)
    # The project's credential files, by exact name: present and readable by the owner only.
    private = [storage / seaweed.IDENTITIES_FILE, storage / s3.ENV_FILE_NAME]
    assert all(p.is_file() and stat.S_IMODE(p.stat().st_mode) == 0o600 for p in private)
    listening = {
        c.laddr.ip
        for c in psutil.Process(seaweed_server.server.pid).net_connections()
        if c.status == "LISTEN"
    }
    assert listening and listening <= {"127.0.0.1", "::ffff:127.0.0.1"}, listening
    scorecard.happened = (
        f"secret in 0 of {len(uploaded)} uploaded objects, {len(local)} workspace files, {len(server_files)} server files; "
        f"{len(private)} credential files mode 600; weed listens on {sorted(listening)}"
    )
