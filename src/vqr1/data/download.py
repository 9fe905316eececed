"""The download stage: fetch (or generate), verify and safely extract one dataset into data/raw/<name>/.

Archives are fetched into ``data/archives/<name>/`` (kept, so re-running extraction after a params
change costs no bandwidth). Only the network layer retries: one requests Session whose urllib3 ``Retry``
retries failed connections, read timeouts and 429/5xx answers with exponential backoff (Retry-After
honoured up to ``backoff_max_s``); on top of it a transfer cut mid-body is resumed from ``<file>.part``
with an HTTP Range request, as long as each attempt makes progress. Nothing above (the Prefect task)
retries again, so a dead mirror costs about a minute, not half an hour (docs/orchestration.md).

Every file is bounded by ``catalogue.download_limit`` (the catalogue's expected size x
``data.download.size_margin``, or ``data.download.max_bytes.<set>``): an announced size over the bound
is refused before the body, a body that grows past it is cut, and the part file deleted.

Checksums: a file is checked against every checksum known for it: the source override's or catalogue's
sha256, the Hub's (a mirror's metadata), and the workspace's ``datasets.lock.yaml``. A sha256 the lock
lacks is recorded only once every piece of the set extracted and the result parsed as the set, so a
refused file never enters the lock; a refused or corrupt download is deleted, so the next run fetches
it again (a user's local archive is never deleted). Sources: plain HTTP here, a Hub mirror through
:mod:`vqr1.data.hub`, a Google Drive file through :mod:`vqr1.data.drive`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from vqr1 import layout
from vqr1.config import DataParams, DownloadParams
from vqr1.data import archive, catalogue, drive, hub, labels
from vqr1.errors import ConfigError, DataError, shorten
from vqr1.fsutil import atomic_dir, atomic_write_text, sha256_file

LOCK_FILE = "datasets.lock.yaml"
_CHUNK = 1 << 20
_LOCK_HEADER = (
    "# sha256 of every dataset archive, recorded by vqr1.data.download once the set extracted and parsed,\n"
    "# and verified on every later download. Commit it. Delete an entry only if you trust the new file.\n"
)
RETRY_STATUS = (429, 500, 502, 503, 504)


def read_lock(root: Path) -> dict[str, dict[str, str]]:
    path = Path(root) / LOCK_FILE
    if not path.exists():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise DataError(f"{path}: expected a mapping dataset -> {{file: sha256}}")
    return loaded


def verify(root: Path, dataset: str, path: Path, expected: str | None, source: str = "source") -> str | None:
    """Check ``path`` against ``expected`` (from ``source``) and the lock; its sha256 when the lock lacks
    it (to :func:`record` once the file proved good), None when the lock already holds it."""
    digest = sha256_file(path)
    locked = read_lock(root).get(dataset, {}).get(path.name)
    for known, where in ((expected, source), (locked, LOCK_FILE)):
        if known is not None and digest != known.lower():
            raise DataError(
                f"{dataset}: checksum mismatch for {path}: sha256 {digest}, expected {known} "
                f"({where}); the file is corrupt or the source changed"
            )
    return digest if locked is None else None


def record(root: Path, dataset: str, digests: dict[str, str]) -> None:
    """Add file name -> sha256 entries of ``dataset`` to the lock (files that extracted and parsed)."""
    if not digests:
        return
    lock = read_lock(root)
    lock.setdefault(dataset, {}).update(digests)
    atomic_write_text(Path(root) / LOCK_FILE, _LOCK_HEADER + yaml.safe_dump(lock, sort_keys=True))


def session(opts: DownloadParams) -> requests.Session:
    """A requests Session whose transport retries (urllib3 Retry): the one retry layer of downloads."""
    retry = Retry(
        total=opts.retries,
        connect=opts.retries,
        read=opts.retries,
        status=opts.retries,
        other=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUS,
        backoff_factor=opts.backoff_s,
        backoff_max=opts.backoff_max_s,
        retry_after_max=int(opts.backoff_max_s),
        raise_on_status=False,
    )
    http = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http


def _remote_size(response: requests.Response) -> int | None:
    """Full file size from Content-Range (206) or Content-Length (200)."""
    if response.status_code == 206:
        total = response.headers.get("Content-Range", "").rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _too_big(label: str, size: int, limit: int, deleted: bool = True) -> DataError:
    return DataError(
        f"{label}: {size:,} bytes is more than the {limit:,} this file may have (the catalogue's expected "
        f"size x data.download.size_margin); refused{' and deleted' if deleted else ''}. If the source is "
        "right, raise data.download.max_bytes.<dataset>"
    )


def _stream(
    http: requests.Session, url: str, part: Path, opts: DownloadParams, limit: int, label: str, progress: bool
) -> bool:
    """One request appending to ``part`` from its current size; True when the file is complete.

    Connection failures were already retried by the session and propagate; an answer cut mid-body
    returns False (the caller resumes).
    """
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    timeout = (opts.connect_timeout_s, opts.timeout_s)
    with http.get(url, headers=headers, stream=True, timeout=timeout) as response:
        if response.status_code == 416:  # our partial file is not a prefix of theirs: start over
            part.unlink(missing_ok=True)
            return False
        if response.status_code >= 400:  # 429 and 5xx come here once the session's retries are spent
            retried = response.status_code in RETRY_STATUS
            after = f" after {opts.retries + 1} attempts" if retried else ""
            raise DataError(f"{label}: HTTP {response.status_code} from {url}{after}")
        if response.status_code == 200:
            offset = 0  # the server ignored Range: rewrite from the start
        total = _remote_size(response)
        if total is not None and total > limit:
            part.unlink(missing_ok=True)
            raise _too_big(label, total, limit)
        written = offset
        try:
            with (
                open(part, "ab" if offset else "wb") as out,
                tqdm(
                    total=total, initial=offset, unit="B", unit_scale=True, desc=label, disable=not progress
                ) as bar,
            ):
                for chunk in response.iter_content(_CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise _too_big(label, written, limit)
                    out.write(chunk)
                    bar.update(len(chunk))
        except DataError:
            part.unlink(missing_ok=True)
            raise
        except requests.RequestException:  # cut mid-body: what arrived is kept for the resume
            return False
    return total is None or part.stat().st_size == total


def fetch_url(
    url: str, dest: Path, opts: DownloadParams, max_bytes: int, label: str = "", progress: bool = True
) -> Path:
    """Stream ``url`` to ``dest`` via ``dest.part`` (at most ``max_bytes``); resume a cut transfer with
    Range while attempts make progress; rename at the end."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    label = label or url
    stalled = 0
    with session(opts) as http:
        while stalled <= opts.retries:
            before = part.stat().st_size if part.exists() else 0
            try:
                if _stream(http, url, part, opts, max_bytes, label, progress):
                    part.replace(dest)
                    return dest
            except requests.RequestException as exc:
                kept = f"; the partial file {part} is kept and resumed next time" if part.exists() else ""
                raise DataError(
                    f"{label}: download failed after {opts.retries + 1} attempts "
                    f"({type(exc).__name__}: {shorten(str(exc), 300)}){kept}"
                ) from exc
            now = part.stat().st_size if part.exists() else 0
            stalled = 0 if now > before else stalled + 1
    raise DataError(
        f"{label}: the transfer was cut {opts.retries + 1} times in a row without progress; "
        f"the partial file {part} is kept and resumed next time"
    )


@dataclass(frozen=True)
class _Piece:
    """One file of a set on disk: where it came from and what the lock must learn once the set proved good."""

    item: catalogue.Archive
    path: Path
    downloaded: bool  # fetched here (deleted when refused), not a user's local file (never deleted)
    new_digest: str | None  # sha256 to record after extraction and parsing; None = a known checksum matched


def _discard(pieces: list[_Piece]) -> None:
    """Delete refused downloads no checksum vouched for, so that the next run fetches them again."""
    for piece in pieces:
        if piece.downloaded and piece.new_digest is not None:
            piece.path.unlink(missing_ok=True)


def _check_kind(item: catalogue.Archive, path: Path, source: str, dataset: str) -> None:
    """Read the first bytes before anything reads the whole file (hashing 1.5 GiB of zeros takes seconds)."""
    archive.refuse_html(path, source, dataset)
    if item.extract:
        archive.archive_kind(path)


def _local_files(root: Path, plan: catalogue.Plan, data: DataParams, progress: bool) -> list[_Piece]:
    """Every piece of ``plan`` on disk, size-bounded and checked (downloading the missing ones)."""
    entry, name = plan.entry, plan.entry.name
    pieces = []
    for item in plan.archives:
        limit = catalogue.download_limit(entry, item, data)
        if item.local is not None:
            path = local_path(root, item)
            if not path.is_file():
                raise DataError(f"{name}: local archive {path} not found (data.sources.{name})")
            if path.stat().st_size > limit:
                raise _too_big(f"{name}: {path}", path.stat().st_size, limit, deleted=False)
            _check_kind(item, path, str(path), name)
            pieces.append(_Piece(item, path, False, verify(root, name, path, item.sha256, "source override")))
            continue
        path = root / layout.ARCHIVES_DIR / name / item.filename
        label = f"{name}/{item.filename}"
        expected, source = item.sha256, "source override or catalogue"
        if not path.exists():
            kind = catalogue.source_kind(item)
            if kind == "mirror":
                repo, revision, filename = catalogue.parse_hub_url(item.url)
                locked = read_lock(root).get(name, {}).get(item.filename)
                got = hub.fetch(repo, revision, filename, path.parent, limit, label, locked)
                path = got.path
                if got.sha256 and not expected:
                    expected, source = got.sha256, f"the Hub's metadata, commit {got.commit[:12]}"
            elif kind == "drive":
                drive.fetch(item.url, path, data.download, limit, label, progress)
            else:
                fetch_url(item.url, path, data.download, limit, label=label, progress=progress)
        try:
            if path.stat().st_size > limit:  # fetched under a larger bound earlier
                raise _too_big(label, path.stat().st_size, limit)
            _check_kind(item, path, item.url, name)
            pieces.append(_Piece(item, path, True, verify(root, name, path, expected, source)))
        except DataError:
            path.unlink(missing_ok=True)  # never resume from or reuse a bad file
            raise
    return pieces


def _images_in(folder: Path) -> bool:
    return any(p.suffix.lower() in layout.IMAGE_SUFFIXES for p in folder.rglob("*"))


def keep_one_resolution(folder: Path, entry: catalogue.Dataset) -> None:
    """A set shipped at several resolutions under the same file names (KonIQ's 1024x768 and 512x384 in
    one mirror archive) keeps only the resolution the paper read, so the two copies never mix; an archive
    holding only another resolution is refused."""
    if not entry.resolutions:
        return
    found: dict[str, list[Path]] = {}
    for path in folder.rglob("*"):
        if path.is_dir() and path.name in entry.resolutions and _images_in(path):
            found.setdefault(path.name, []).append(path)
    wanted = entry.resolutions[0]
    others = sorted(name for name in found if name != wanted)
    if others and wanted not in found:
        raise DataError(
            f"{entry.name}: the archive holds the images at {', '.join(others)} only; the paper evaluated "
            f"{entry.title} at {wanted}: give an archive with the {wanted}/ images"
        )
    for name in others:
        for path in found[name]:
            shutil.rmtree(path)


def check_contents(folder: Path, entry: catalogue.Dataset, data: DataParams) -> None:
    """The extracted files must be the set: its own label file parses (when the set is read with it),
    else (labels from the reference repository) the files hold images."""
    if entry.parser is not None and not catalogue.uses_reference(entry, data.labels):
        if labels.parse(folder, entry).empty:
            raise DataError(f"{entry.name}: the label file in the downloaded files lists no images")
        return
    if not _images_in(folder):
        raise DataError(f"{entry.name}: the downloaded files hold no image; they are not {entry.title}")


def local_path(root: Path, item: catalogue.Archive) -> Path:
    """Where a piece given as a local archive is (relative paths are to the workspace root)."""
    assert item.local is not None
    return Path(item.local) if Path(item.local).is_absolute() else Path(root) / item.local


def source_record(name: str, root: Path, data: DataParams) -> dict[str, Any]:
    """What the download of ``name`` would read, as DVC can compare it: each piece's URL and expected
    sha256, or its local file's path, size and modification time; the generated set's spec; or why
    the source cannot be resolved (the download stage then stops with that message)."""
    try:
        plan = catalogue.plan(name, data)
    except ConfigError as exc:
        return {"dataset": name, "unresolved": str(exc)}
    if plan.generate:
        return {"dataset": name, "generated": data.synthetic.model_dump()}
    pieces = []
    for item in plan.archives:
        piece: dict[str, Any] = {"part": item.part, "file": item.filename, "sha256": item.sha256}
        if item.local is None:
            piece["url"] = item.url
        else:
            path = local_path(root, item)
            found = path.stat() if path.is_file() else None
            piece["local"] = {
                "path": str(path.resolve()),
                "size": found.st_size if found else None,
                "mtime_ns": found.st_mtime_ns if found else None,
            }
        pieces.append(piece)
    return {"dataset": name, "pieces": pieces}


def fetch(name: str, root: Path, data: DataParams, progress: bool = True) -> Path:
    """Produce ``root/data/raw/<name>/`` for one dataset; the folder appears only when complete."""
    root = Path(root)
    plan = catalogue.plan(name, data)
    target = layout.raw_dir(root, name)
    if plan.generate:
        from vqr1.data import synth

        spec = catalogue.synth_spec(data)
        with atomic_dir(target) as tmp:
            synth.build(tmp, spec, workers=synth.default_workers(), progress=progress)
        return target
    pieces = _local_files(root, plan, data, progress)
    opts = data.download
    with atomic_dir(target) as tmp:
        for piece in pieces:
            try:
                if piece.item.extract:
                    archive.extract(piece.path, tmp, opts.max_extract_bytes, opts.max_ratio)
                else:
                    shutil.copyfile(piece.path, tmp / piece.item.filename)
            except DataError:
                _discard([piece])
                raise
        try:
            keep_one_resolution(tmp, plan.entry)
            check_contents(tmp, plan.entry, data)
        except DataError:
            _discard(pieces)
            raise
    record(root, name, {p.path.name: p.new_digest for p in pieces if p.new_digest is not None})
    return target
