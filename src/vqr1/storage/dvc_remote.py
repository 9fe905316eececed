"""DVC's default remote on the S3 store, and the push / pull that use it.

``.dvc/config`` (committed) gets only the remote's URL ``s3://<bucket>/<dvc_prefix>`` and, for a fixed
production endpoint from params.yaml, its ``endpointurl``. What belongs to one machine goes to
``.dvc/config.local`` (git-ignored by DVC): the embedded server's endpoint (its port changes) and
credentials read from the embedded server's env file. Credentials from the environment are not
written anywhere: DVC reads the AWS_* variables itself (that is how CI passes its read-only secrets).
"""

from __future__ import annotations

from pathlib import Path

from vqr1.config import StorageParams
from vqr1.dvc_runner import dvc_config, run_dvc
from vqr1.errors import StorageError
from vqr1.storage import s3

REMOTE = "storage"
TRANSFER_TIMEOUT_S = 3600
# keys this module manages in config.local (stale ones are dropped when the source changes)
_MACHINE_KEYS = ("endpointurl", "access_key_id", "secret_access_key")


def configure(
    root: Path, params: StorageParams, settings: s3.S3Settings, credentials_from_env: bool = False
) -> str:
    """Make the S3 store DVC's default remote in the DVC project at ``root``; returns its URL.

    Written through DVC's own config API (validated by DVC's schema), so secrets never appear on a
    command line; config.local is then made private (mode 600).
    """
    url = settings.uri(params.dvc_prefix.strip("/"))
    fixed = bool(params.endpoint_url) and settings.endpoint_url == params.endpoint_url
    local: dict[str, str] = {}
    if settings.endpoint_url and not fixed:
        local["endpointurl"] = settings.endpoint_url
    if not credentials_from_env:
        if not settings.access_key or not settings.secret_key:
            raise StorageError(
                f"no credentials for {settings.describe()}: run `vqr1 storage up` or set AWS_*"
            )
        local.update(access_key_id=settings.access_key, secret_access_key=settings.secret_key)
    dvc_dir = Path(root) / ".dvc"
    if not dvc_dir.is_dir():
        raise StorageError(f"{root}: not a DVC project (no .dvc/); run `dvc init` first")
    with dvc_config(dvc_dir, "configure the DVC remote", StorageError) as config:
        with config.edit("repo") as conf:
            conf["core"]["remote"] = REMOTE
            conf["remote"][REMOTE] = {"url": url, **({"endpointurl": params.endpoint_url} if fixed else {})}
        with config.edit("local") as conf:
            remote = {k: v for k, v in conf["remote"].get(REMOTE, {}).items() if k not in _MACHINE_KEYS}
            conf["remote"][REMOTE] = {**remote, **local}
    local_file = dvc_dir / "config.local"
    if local_file.exists():
        local_file.chmod(0o600)
    return url


def push(root: Path, jobs: int = 4) -> str:
    return run_dvc(root, "push", "--jobs", str(jobs), timeout_s=TRANSFER_TIMEOUT_S, error=StorageError)


def pull(root: Path, jobs: int = 4, targets: tuple[str, ...] = ()) -> str:
    return run_dvc(
        root, "pull", "--jobs", str(jobs), *targets, timeout_s=TRANSFER_TIMEOUT_S, error=StorageError
    )
