"""The artifact store: each pipeline run's adapter, metrics, predictions and report under ``runs/<run-id>/``.

Files keep their workspace-relative paths (``runs/<id>/models/<run>/adapter/...``,
``runs/<id>/reports/eval/metrics.json``). ``runs/<id>/manifest.json`` is written LAST and lists the
sha256 and size of every file plus the git commit, a hash of the params and the DVC data versions,
so a run without a manifest is an incomplete upload and is never promoted. A download checks every
file against the manifest and refuses the run if one differs (a tampered or truncated object).

A download never deletes what it did not write: it fills a new folder, or replaces one holding only a
previous download (the ``.vqr1-download.json`` marker lists the files it wrote); anything else needs
``force``. Manifest paths are checked before anything is fetched (no ``..``, no file that is also a folder).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from botocore.client import BaseClient

from vqr1 import layout
from vqr1.config import Params, read_yaml
from vqr1.errors import DataError, StorageError, shorten
from vqr1.fsutil import atomic_dir, sha256_file
from vqr1.naming import check_name
from vqr1.storage import s3

RUNS_PREFIX = "runs"
MANIFEST = "manifest.json"
DOWNLOAD_MARKER = ".vqr1-download.json"  # in every downloaded folder: the run and the files written
# What every run uploads besides its weights; missing optional files are skipped.
REQUIRED_FILES = ((layout.EVAL_DIR / "metrics.json").as_posix(),)
OPTIONAL_PATHS = (
    layout.EVAL_DIR.as_posix(),
    (layout.GATE_REPORT_DIR / "summary.json").as_posix(),
    (layout.DVCLIVE_DIR / "metrics.json").as_posix(),
    "params.yaml",
    "dvc.lock",
)


@dataclass(frozen=True)
class Manifest:
    run_id: str
    created_utc: str
    git_commit: str | None
    git_dirty: bool | None
    params_sha256: str
    data_versions: dict[str, str]
    files: dict[str, dict[str, Any]]  # relative path -> {"sha256": ..., "size": ...}

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def new_run_id(now: datetime | None = None) -> str:
    """Sortable and unique: UTC time plus a random suffix (``20260101T120000Z-3f9a1c``)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def run_prefix(run_id: str) -> str:
    try:
        check_name("run id", run_id)
    except ValueError as exc:
        raise StorageError(str(exc)) from None
    return f"{RUNS_PREFIX}/{run_id}/"


def run_files(root: Path, params: Params) -> list[str]:
    """Workspace-relative posix paths of everything a run uploads (weights, model card, reports)."""
    root = Path(root)
    weights = layout.weights_dir(Path(), params.train)
    if not (root / weights).is_dir():
        raise DataError(f"{root / weights}: no trained weights; run the train stage first")
    for rel in REQUIRED_FILES:
        if not (root / rel).is_file():
            raise DataError(f"{root / rel}: missing; run the evaluate stage first")
    paths = [weights, layout.run_dir(Path(), params.train) / "README.md", *map(Path, OPTIONAL_PATHS)]
    found: set[str] = set()
    for rel in paths:
        target = root / rel
        if target.is_file():
            found.add(rel.as_posix())
        elif target.is_dir():
            found.update(p.relative_to(root).as_posix() for p in target.rglob("*") if p.is_file())
    return sorted(found)


def params_sha256(root: Path) -> str:
    """Hash of the params as loaded (key order and comments do not change it)."""
    canonical = json.dumps(read_yaml(Path(root) / "params.yaml"), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def data_versions(root: Path) -> dict[str, str]:
    """DVC's content hash of every data/ output recorded in dvc.lock (empty without a lock)."""
    lock = Path(root) / "dvc.lock"
    if not lock.is_file():
        return {}
    stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages", {})
    versions: dict[str, str] = {}
    for stage in stages.values():
        for out in stage.get("outs", []):
            if str(out.get("path", "")).startswith("data/") and out.get("md5"):
                versions[out["path"]] = out["md5"]
    return dict(sorted(versions.items()))


def git_state(root: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout holding ``root``; (None, None) outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, bool(dirty)


def build_manifest(root: Path, params: Params, run_id: str) -> Manifest:
    root = Path(root)
    commit, dirty = git_state(root)
    return Manifest(
        run_id=run_id,
        created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        git_commit=commit,
        git_dirty=dirty,
        params_sha256=params_sha256(root),
        data_versions=data_versions(root),
        files={
            rel: {"sha256": sha256_file(root / rel), "size": (root / rel).stat().st_size}
            for rel in run_files(root, params)
        },
    )


def upload_run(
    client: BaseClient, settings: s3.S3Settings, root: Path, params: Params, run_id: str
) -> Manifest:
    """Upload the run's files, then its manifest (the manifest's presence marks a complete upload)."""
    root = Path(root)
    manifest = build_manifest(root, params, run_id)
    prefix = run_prefix(run_id)
    for rel in manifest.files:
        try:
            client.upload_file(str(root / rel), settings.bucket, prefix + rel)
        except (*s3.TRANSFER_ERRORS, OSError) as exc:
            raise s3.storage_error(f"upload {rel}", settings, exc) from exc
    s3.put_bytes(client, settings, prefix + MANIFEST, manifest.to_json().encode(), "application/json")
    return manifest


def read_manifest(client: BaseClient, settings: s3.S3Settings, run_id: str) -> Manifest:
    """The manifest of a complete run; StorageError when the run is missing or incomplete."""
    key = run_prefix(run_id) + MANIFEST
    raw = s3.get_bytes(client, settings, key)
    if raw is None:
        raise StorageError(
            f"{settings.uri(key)}: no manifest; run {run_id} is missing or its upload incomplete"
        )
    try:
        return Manifest(**json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise StorageError(f"{settings.uri(key)}: unreadable manifest ({exc})") from exc


def check_manifest_paths(files: Iterable[str], where: str) -> None:
    """Refuse manifest paths that could escape the folder or collide: ``..``, absolute, empty or ``.``
    components, control characters, the marker's name, and a file that another path needs as a folder."""
    listed = set(files)
    for rel in sorted(listed):
        parts = rel.split("/")
        if (
            rel.startswith("/")
            or "\\" in rel
            or any(part in ("", ".", "..") for part in parts)
            or any(ord(c) < 32 for c in rel)
            or rel == DOWNLOAD_MARKER
        ):
            raise StorageError(f"{where}: unsafe path {shorten(rel)} in the manifest; run refused")
        for parent in PurePosixPath(rel).parents:
            if parent.as_posix() in listed:
                raise StorageError(
                    f"{where}: the manifest lists both {shorten(parent.as_posix())} (a file) and "
                    f"{shorten(rel)} (inside it as a folder); run refused"
                )


def _written_before(dest: Path) -> set[str] | None:
    """The files a previous download wrote into ``dest`` (from its marker), or None when there was none."""
    try:
        marker = json.loads((dest / DOWNLOAD_MARKER).read_text(encoding="utf-8"))
        return {str(f) for f in marker["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_destination(dest: Path, force: bool = False) -> None:
    """StorageError unless ``dest`` may be (re)placed: new, empty, or only a previous download's files."""
    where = Path(dest).resolve()
    if where == Path.cwd().resolve() or Path.cwd().resolve().is_relative_to(where):
        raise StorageError(f"{dest}: is the current folder or holds it; give a new folder to download into")
    if where.exists() and not where.is_dir():
        raise StorageError(f"{dest}: exists and is not a folder")
    if force or not where.is_dir() or not any(where.iterdir()):
        return
    ours = _written_before(where)
    present = sorted(p.relative_to(where).as_posix() for p in where.rglob("*") if not p.is_dir())
    if ours is None:
        raise StorageError(
            f"{dest}: not empty ({len(present)} files, e.g. {shorten(present[:3], 200)}) and not a previous "
            f"download (no {DOWNLOAD_MARKER}); vqr1 never deletes what it did not write: choose a new folder, "
            "or pass --force to replace it"
        )
    foreign = [p for p in present if p not in ours and p != DOWNLOAD_MARKER]
    if foreign:
        raise StorageError(
            f"{dest}: holds {len(foreign)} files the previous download did not write (e.g. "
            f"{shorten(foreign[:3], 200)}); move them away, or pass --force to replace the folder"
        )


def download_run(
    client: BaseClient, settings: s3.S3Settings, run_id: str, dest: Path, force: bool = False
) -> Manifest:
    """Fetch run ``run_id`` into ``dest`` (swapped in only when every file matches its checksum).

    ``dest`` must be new, empty or a previous download (see :func:`check_destination`) unless ``force``.
    """
    dest = Path(dest)
    check_destination(dest, force)
    manifest = read_manifest(client, settings, run_id)
    prefix = run_prefix(run_id)
    check_manifest_paths(manifest.files, settings.uri(prefix + MANIFEST))
    with atomic_dir(dest) as tmp:
        for rel, meta in manifest.files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                client.download_file(settings.bucket, prefix + rel, str(target))
            except s3.TRANSFER_ERRORS as exc:
                raise s3.storage_error(f"download {rel}", settings, exc) from exc
            actual = sha256_file(target)
            if actual != meta["sha256"]:
                raise StorageError(
                    f"{settings.uri(prefix + rel)}: sha256 {actual[:12]}... does not match the manifest's "
                    f"{meta['sha256'][:12]}...: the object was altered or truncated; run {run_id} refused"
                )
        marker = {
            "run_id": run_id,
            "downloaded_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": sorted(manifest.files),
        }
        (tmp / DOWNLOAD_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return manifest


def list_runs(client: BaseClient, settings: s3.S3Settings) -> list[str]:
    """Run ids with a complete upload (a manifest), oldest first."""
    suffix = "/" + MANIFEST
    return sorted(
        key[len(RUNS_PREFIX) + 1 : -len(suffix)]
        for key in s3.list_keys(client, settings, RUNS_PREFIX + "/")
        if key.endswith(suffix) and key.count("/") == 2
    )
