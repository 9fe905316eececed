"""A real SeaweedFS for the storage, registry and flow tests (not a mock): one per test session.

Started with the project's own ``vqr1.storage.seaweed.up`` on free loopback ports in a fresh data
folder, stopped with SIGTERM at the end. Each test gets its own bucket so tests never see each
other's objects.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from vqr1.config import Params, StorageParams, load_params
from vqr1.storage import s3, seaweed

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class SeaweedHandle:
    storage_dir: Path
    server: seaweed.Server
    writer: s3.S3Settings
    reader: s3.S3Settings

    def with_bucket(self, bucket: str) -> tuple[s3.S3Settings, s3.S3Settings]:
        return replace(self.writer, bucket=bucket), replace(self.reader, bucket=bucket)


@pytest.fixture(scope="session")
def seaweed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedHandle]:
    folder = tmp_path_factory.mktemp("seaweed")
    server = seaweed.up(folder, [])
    params = StorageParams(bucket="unused")
    handle = SeaweedHandle(
        folder,
        server,
        s3.resolve(params, env={}, storage_dir=folder),
        s3.resolve(params, env={}, storage_dir=folder, readonly=True),
    )
    yield handle
    seaweed.down(folder)


def kill_server(storage: Path) -> seaweed.Server:
    """SIGKILL the weed process of ``storage`` (no clean shutdown) and wait until it is gone."""
    server = seaweed.running(storage)
    assert server is not None, f"no server running for {storage}"
    os.kill(server.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while seaweed.running(storage) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    return server


@pytest.fixture
def s3_bucket(seaweed_server: SeaweedHandle) -> Iterator[tuple[s3.S3Settings, s3.S3Settings]]:
    """(writer, reader) settings on a fresh bucket of the session's server."""
    writer, reader = seaweed_server.with_bucket(f"t-{secrets.token_hex(6)}")
    client = s3.client(writer)
    s3.ensure_bucket(client, writer)
    yield writer, reader
    # SeaweedFS gives every bucket its own volumes; dropping the bucket frees them for the next tests.
    for key in s3.list_keys(client, writer, ""):
        client.delete_object(Bucket=writer.bucket, Key=key)
    client.delete_bucket(Bucket=writer.bucket)


def fake_run_workspace(root: Path, srcc: dict[str, float], run_name: str = "demo") -> Params:
    """A workspace holding what a finished pipeline run leaves behind (small files, no training)."""
    root.mkdir(parents=True, exist_ok=True)
    params_text = (REPO / "params.yaml").read_text(encoding="utf-8")
    (root / "params.yaml").write_text(params_text.replace("run_name: kadid-lora", f"run_name: {run_name}"))
    adapter = root / "models" / run_name / "adapter"
    adapter.mkdir(parents=True, exist_ok=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 8, "seed": secrets.token_hex(4)}))
    (adapter / "adapter_model.safetensors").write_bytes(secrets.token_bytes(4096))
    (root / "models" / run_name / "README.md").write_text("# model card\n")
    metrics = {
        "datasets": {name: {"srcc": v, "plcc": v} for name, v in srcc.items()},
        "mean": {"srcc": sum(srcc.values()) / len(srcc), "plcc": sum(srcc.values()) / len(srcc)},
    }
    (root / "reports" / "eval" / "predictions").mkdir(parents=True, exist_ok=True)
    (root / "reports" / "eval" / "metrics.json").write_text(json.dumps(metrics))
    (root / "reports" / "eval" / "predictions" / "synthetic.csv").write_text(
        "image,mos,mean\na.png,3.0,2.9\n"
    )
    (root / "reports" / "eval" / "report.md").write_text("# report\n")
    (root / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  validate:\n    cmd: x\n    outs:\n"
        "    - path: data/validated\n      md5: 0123abcd.dir\n"
    )
    return load_params(root / "params.yaml")
