"""The download stage: fetch (or generate), verify and safely extract one dataset into data/raw/<name>/.

Archives are fetched into ``data/archives/<name>/`` (kept, so re-running extraction after a params
change costs no bandwidth) with HTTP Range resume of ``<file>.part``, retries with exponential
backoff and a sha256 check. A checksum the catalogue does not know is recorded on first download
in the workspace's ``datasets.lock.yaml`` and verified on every later download, so a mirror that
silently changes its file is caught.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import requests
import yaml
from tqdm import tqdm

from vqr1.config import DataParams, DownloadParams
from vqr1.data import archive, catalogue
from vqr1.errors import DataError
from vqr1.fsutil import atomic_dir, atomic_write_text

LOCK_FILE = "datasets.lock.yaml"
_CHUNK = 1 << 20
_LOCK_HEADER = (
    "# sha256 of every dataset archive, recorded on first download by vqr1.data.download and verified\n"
    "# on every later one. Commit it. Delete an entry only if you trust the new file.\n"
)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def read_lock(root: Path) -> dict[str, dict[str, str]]:
    path = Path(root) / LOCK_FILE
    if not path.exists():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise DataError(f"{path}: expected a mapping dataset -> {{file: sha256}}")
    return loaded


def verify(root: Path, dataset: str, path: Path, expected: str | None) -> str:
    """Check ``path`` against ``expected`` or the lock; record it in the lock when neither knows it."""
    digest = sha256_file(path)
    lock = read_lock(root)
    known = expected or lock.get(dataset, {}).get(path.name)
    if known is None:
        lock.setdefault(dataset, {})[path.name] = digest
        atomic_write_text(Path(root) / LOCK_FILE, _LOCK_HEADER + yaml.safe_dump(lock, sort_keys=True))
    elif digest != known.lower():
        raise DataError(
            f"{dataset}: checksum mismatch for {path}: sha256 {digest}, expected {known} "
            f"({'source override' if expected else LOCK_FILE}); the file is corrupt or the source changed"
        )
    return digest


def _remote_size(response: requests.Response, offset: int) -> int | None:
    """Full file size from Content-Range (206) or Content-Length (200)."""
    if response.status_code == 206:
        total = response.headers.get("Content-Range", "").rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def fetch_url(url: str, dest: Path, opts: DownloadParams, label: str = "", progress: bool = True) -> Path:
    """Stream ``url`` to ``dest`` via ``dest.part``: resume with Range, retry with backoff, rename at the end."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last_error = ""
    for attempt in range(opts.retries + 1):
        if attempt:
            time.sleep(opts.backoff_s * 2 ** (attempt - 1))
        offset = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with requests.get(url, headers=headers, stream=True, timeout=opts.timeout_s) as response:
                if response.status_code == 416:  # our partial file is not a prefix of theirs: start over
                    part.unlink(missing_ok=True)
                    last_error = "HTTP 416 on resume"
                    continue
                if 400 <= response.status_code < 500 and response.status_code != 429:
                    raise DataError(f"{label or url}: HTTP {response.status_code} from {url}")
                response.raise_for_status()
                if response.status_code == 200:
                    offset = 0  # the server ignored Range: rewrite from the start
                total = _remote_size(response, offset)
                with (
                    open(part, "ab" if offset else "wb") as out,
                    tqdm(
                        total=total,
                        initial=offset,
                        unit="B",
                        unit_scale=True,
                        desc=label or dest.name,
                        disable=not progress,
                    ) as bar,
                ):
                    for chunk in response.iter_content(_CHUNK):
                        out.write(chunk)
                        bar.update(len(chunk))
            size = part.stat().st_size
            if total is not None and size != total:
                last_error = f"transfer ended at {size:,} of {total:,} bytes"
                continue
            part.replace(dest)
            return dest
        except requests.RequestException as exc:
            last_error = f"{type(exc).__name__}: {exc}"
    raise DataError(
        f"{label or url}: download failed after {opts.retries + 1} attempts ({last_error}); "
        f"the partial file {part} is kept and resumed next time"
    )


def _archive_paths(root: Path, plan: catalogue.Plan, data: DataParams, progress: bool) -> list[Path]:
    """Local, verified files for every piece of ``plan`` (downloading the missing ones)."""
    name = plan.entry.name
    paths = []
    for item in plan.archives:
        if item.local is not None:
            path = Path(item.local) if Path(item.local).is_absolute() else root / item.local
            if not path.is_file():
                raise DataError(f"{name}: local archive {path} not found (data.sources.{name})")
            archive.refuse_html(path, str(path), name)
            verify(root, name, path, item.sha256)
            paths.append(path)
            continue
        path = root / "data" / "archives" / name / item.filename
        if not path.exists():
            fetch_url(item.url, path, data.download, label=f"{name}/{item.filename}", progress=progress)
        try:
            archive.refuse_html(path, item.url, name)
            verify(root, name, path, item.sha256)
        except DataError:
            path.unlink()  # never resume from or reuse a bad file
            raise
        paths.append(path)
    return paths


def fetch(name: str, root: Path, data: DataParams, progress: bool = True) -> Path:
    """Produce ``root/data/raw/<name>/`` for one dataset; the folder appears only when complete."""
    root = Path(root)
    plan = catalogue.plan(name, data)
    target = root / "data" / "raw" / name
    if plan.generate:
        from vqr1.data import synth

        spec = catalogue.synth_spec(data)
        with atomic_dir(target) as tmp:
            synth.build(tmp, spec, workers=synth.default_workers(), progress=progress)
        return target
    paths = _archive_paths(root, plan, data, progress)
    with atomic_dir(target) as tmp:
        for item, path in zip(plan.archives, paths, strict=True):
            if item.extract:
                archive.extract(path, tmp, data.download.max_extract_bytes)
            else:
                shutil.copyfile(path, tmp / item.filename)
    return target
