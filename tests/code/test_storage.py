"""The embedded SeaweedFS, identities, artifact store and DVC remote, against a real server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import boto3
import botocore
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.fixtures_storage import SeaweedHandle, fake_run_workspace
from vqr1.config import StorageParams
from vqr1.dvc_runner import dvc_bin, dvc_env
from vqr1.errors import DataError, StorageError
from vqr1.storage import artifacts, dvc_remote, s3, seaweed


def _code(exc_info: pytest.ExceptionInfo[ClientError]) -> str:
    return s3.error_code(exc_info.value)


def test_credentials_files_are_private_and_status_hides_secrets(seaweed_server: SeaweedHandle) -> None:
    folder = seaweed_server.storage_dir
    for name in (s3.ENV_FILE_NAME, seaweed.IDENTITIES_FILE):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    report = json.dumps(seaweed.status(folder))
    assert json.loads(report)["running"] is True
    assert seaweed_server.writer.secret_key not in report
    assert seaweed_server.reader.secret_key not in report
    assert seaweed_server.writer.access_key != seaweed_server.reader.access_key


def test_anonymous_requests_are_refused(s3_bucket: tuple[s3.S3Settings, s3.S3Settings]) -> None:
    writer, _ = s3_bucket
    s3.put_bytes(s3.client(writer), writer, "public/x.txt", b"secret data", "text/plain")
    unsigned = boto3.client(
        "s3",
        endpoint_url=writer.endpoint_url,
        region_name="us-east-1",
        config=Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as read:
        unsigned.get_object(Bucket=writer.bucket, Key="public/x.txt")
    assert _code(read) == "AccessDenied"
    with pytest.raises(ClientError):
        unsigned.put_object(Bucket=writer.bucket, Key="anon.txt", Body=b"x")
    assert requests.get(f"{writer.endpoint_url}/{writer.bucket}/public/x.txt", timeout=10).status_code == 403
    assert requests.put(f"{writer.endpoint_url}/{writer.bucket}/a", data=b"x", timeout=10).status_code == 403


def test_read_only_identity_reads_but_cannot_write(s3_bucket: tuple[s3.S3Settings, s3.S3Settings]) -> None:
    writer, reader = s3_bucket
    s3.put_bytes(s3.client(writer), writer, "k.txt", b"v1", "text/plain")
    ro = s3.client(reader, attempts=1)
    assert s3.get_bytes(ro, reader, "k.txt") == b"v1"
    assert list(s3.list_keys(ro, reader, "")) == ["k.txt"]
    with pytest.raises(StorageError, match="AccessDenied"):
        s3.put_bytes(ro, reader, "k.txt", b"v2", "text/plain")
    with pytest.raises(ClientError) as deleted:
        ro.delete_object(Bucket=reader.bucket, Key="k.txt")
    assert _code(deleted) == "AccessDenied"
    assert s3.get_bytes(ro, reader, "k.txt") == b"v1"


def test_run_upload_refused_by_the_server_is_a_storage_error(
    s3_bucket: tuple[s3.S3Settings, s3.S3Settings], tmp_path: Path
) -> None:
    """boto3 wraps a refused upload in S3UploadFailedError (not a ClientError): it must still name file and cause."""
    _, reader = s3_bucket
    params = fake_run_workspace(tmp_path / "ws", {"synthetic": 0.5})
    with pytest.raises(StorageError, match=r"upload \S+ on .* failed: .*AccessDenied") as refused:
        artifacts.upload_run(
            s3.client(reader, attempts=1), reader, tmp_path / "ws", params, "20260101T000000Z-ro"
        )
    assert reader.endpoint_url in str(refused.value)


def test_wrong_secret_is_refused(s3_bucket: tuple[s3.S3Settings, s3.S3Settings]) -> None:
    writer, _ = s3_bucket
    forged = s3.S3Settings(writer.endpoint_url, writer.bucket, writer.access_key, "not-the-secret")
    with pytest.raises(StorageError, match=r"SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId"):
        list(s3.list_keys(s3.client(forged, attempts=1), forged, ""))


def test_up_is_idempotent_and_reuses_credentials(seaweed_server: SeaweedHandle) -> None:
    again = seaweed.up(seaweed_server.storage_dir, [])
    assert again.pid == seaweed_server.server.pid
    assert s3.resolve(StorageParams(), env={}, storage_dir=seaweed_server.storage_dir).secret_key == (
        seaweed_server.writer.secret_key
    )


def test_more_buckets_than_a_fixed_volume_count_all_take_data(seaweed_server: SeaweedHandle) -> None:
    """SeaweedFS gives each bucket its own volumes: a fixed -volume.max=16 refused the 17th bucket's
    first object with InternalError. The server sizes its volume count from the free disk instead."""
    client = s3.client(seaweed_server.writer, attempts=1)
    buckets = [f"many-{i:02d}" for i in range(20)]
    try:
        for name in buckets:
            client.create_bucket(Bucket=name)
            client.put_object(Bucket=name, Key="k", Body=b"x" * 1024)
        assert [client.get_object(Bucket=name, Key="k")["Body"].read() for name in buckets] == [
            b"x" * 1024
        ] * 20
    finally:
        for name in buckets:
            try:
                client.delete_object(Bucket=name, Key="k")
                client.delete_bucket(Bucket=name)
            except ClientError:
                pass


def test_env_file_syntax_and_a_key_without_value(tmp_path: Path) -> None:
    env = tmp_path / "s3.env"
    env.write_text("# credentials\nexport AWS_ACCESS_KEY_ID='quoted key'\n\nAWS_SECRET_ACCESS_KEY=s=3\n")
    assert s3.read_env_file(env) == {"AWS_ACCESS_KEY_ID": "quoted key", "AWS_SECRET_ACCESS_KEY": "s=3"}
    env.write_text("AWS_ACCESS_KEY_ID=k\nAWS_SECRET_ACCESS_KEY\n")
    with pytest.raises(StorageError, match=r"s3\.env: 'AWS_SECRET_ACCESS_KEY' has no value"):
        s3.read_env_file(env)


def test_ports_leave_room_for_grpc_and_a_recycled_pid_is_not_weed() -> None:
    assert max(seaweed.HTTP_PORTS) + seaweed.GRPC_OFFSET == 65535  # every gRPC twin is a valid port
    ports = seaweed.free_ports(len(seaweed.PORT_NAMES))
    assert all(p in seaweed.HTTP_PORTS for p in ports)
    assert len({*ports, *(p + seaweed.GRPC_OFFSET for p in ports)}) == 2 * len(ports)
    assert seaweed._weed_process(os.getpid()) is None  # alive, but python: never signalled as weed
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert seaweed._weed_process(gone.pid) is None  # exited and reaped


def test_resolve_prefers_environment_over_params_and_env_file(tmp_path: Path) -> None:
    (tmp_path / s3.ENV_FILE_NAME).write_text(
        "AWS_ENDPOINT_URL=http://127.0.0.1:1\nAWS_ACCESS_KEY_ID=fileKey\nAWS_SECRET_ACCESS_KEY=fileSecret\n"
        f"{s3.READONLY_KEY_VAR}=roKey\n{s3.READONLY_SECRET_VAR}=roSecret\n"
    )
    params = StorageParams(endpoint_url="", bucket="b")
    from_file = s3.resolve(params, env={}, storage_dir=tmp_path)
    assert (from_file.endpoint_url, from_file.access_key) == ("http://127.0.0.1:1", "fileKey")
    assert s3.resolve(params, env={}, storage_dir=tmp_path, readonly=True).access_key == "roKey"
    prod = s3.resolve(
        StorageParams(endpoint_url="https://s3.example.com", bucket="b"),
        env={"AWS_ACCESS_KEY_ID": "envKey", "AWS_SECRET_ACCESS_KEY": "envSecret", "VQR1_S3_BUCKET": "ci"},
        storage_dir=tmp_path,
        readonly=True,
    )
    assert (prod.endpoint_url, prod.access_key, prod.bucket) == ("https://s3.example.com", "envKey", "ci")
    assert "envSecret" not in repr(prod)
    with pytest.raises(StorageError, match="no S3 credentials"):
        s3.client(s3.resolve(params, env={}, storage_dir=tmp_path / "none"))


def test_artifact_round_trip_verifies_checksums(
    s3_bucket: tuple[s3.S3Settings, s3.S3Settings], tmp_path: Path
) -> None:
    writer, reader = s3_bucket
    params = fake_run_workspace(tmp_path / "ws", {"synthetic": 0.5})
    run_id = artifacts.new_run_id()
    manifest = artifacts.upload_run(s3.client(writer), writer, tmp_path / "ws", params, run_id)
    assert "models/demo/adapter/adapter_model.safetensors" in manifest.files
    assert "reports/eval/metrics.json" in manifest.files
    assert manifest.data_versions == {"data/validated": "0123abcd.dir"}
    assert len(manifest.params_sha256) == 64
    assert artifacts.list_runs(s3.client(reader), reader) == [run_id]

    dest = tmp_path / "download"
    artifacts.download_run(s3.client(reader), reader, run_id, dest)
    for rel in manifest.files:
        assert (dest / rel).read_bytes() == (tmp_path / "ws" / rel).read_bytes()

    key = artifacts.run_prefix(run_id) + "models/demo/adapter/adapter_model.safetensors"
    s3.put_bytes(s3.client(writer), writer, key, b"tampered weights", "application/octet-stream")
    elsewhere = tmp_path / "tampered"
    with pytest.raises(StorageError, match=r"sha256 .* does not match"):
        artifacts.download_run(s3.client(reader), reader, run_id, elsewhere)
    assert not elsewhere.exists()


def test_run_without_weights_is_not_uploaded(
    s3_bucket: tuple[s3.S3Settings, s3.S3Settings], tmp_path: Path
) -> None:
    writer, _ = s3_bucket
    params = fake_run_workspace(tmp_path, {"synthetic": 0.5})
    (tmp_path / "reports" / "eval" / "metrics.json").unlink()
    with pytest.raises(DataError, match=r"metrics\.json: missing"):
        artifacts.upload_run(s3.client(writer), writer, tmp_path, params, artifacts.new_run_id())
    assert list(s3.list_keys(s3.client(writer), writer, "")) == []


def _dvc(root: Path, *args: str) -> None:
    subprocess.run([dvc_bin(), *args], cwd=root, check=True, capture_output=True, env=dvc_env())


def test_dvc_push_pull_round_trip(s3_bucket: tuple[s3.S3Settings, s3.S3Settings], tmp_path: Path) -> None:
    writer, reader = s3_bucket
    params = StorageParams(bucket=writer.bucket, dvc_prefix="dvc")
    src, dst = tmp_path / "src", tmp_path / "dst"
    for root in (src, dst):
        root.mkdir()
        _dvc(root, "init", "--no-scm", "-q")
    (src / "data").mkdir()
    (src / "data" / "a.bin").write_bytes(os.urandom(2048))
    (src / "models").mkdir()
    (src / "models" / "w.txt").write_text("weights\n")
    _dvc(src, "add", "-q", "data", "models")
    url = dvc_remote.configure(src, params, writer)
    assert url == f"s3://{writer.bucket}/dvc"
    committed = (src / ".dvc" / "config").read_text()
    assert writer.secret_key not in committed and writer.endpoint_url not in committed
    assert stat.S_IMODE((src / ".dvc" / "config.local").stat().st_mode) == 0o600
    dvc_remote.push(src)
    assert any(k.startswith("dvc/files/md5/") for k in s3.list_keys(s3.client(writer), writer, "dvc/"))

    for name in ("data.dvc", "models.dvc"):
        (dst / name).write_text((src / name).read_text())
    dvc_remote.configure(dst, params, reader)  # pull-request evaluation: read-only identity
    dvc_remote.pull(dst)
    assert (dst / "data" / "a.bin").read_bytes() == (src / "data" / "a.bin").read_bytes()
    assert (dst / "models" / "w.txt").read_text() == "weights\n"
    with pytest.raises(StorageError, match="dvc push"):
        (dst / "data" / "b.bin").write_bytes(b"new")
        _dvc(dst, "add", "-q", "data")
        dvc_remote.push(dst)  # the read-only identity cannot write to the remote
