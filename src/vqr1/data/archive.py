"""Safe archive extraction (zip and tar, any compression tarfile reads).

Dataset archives come from mirrors and from users' disks, so they are treated as hostile: a member
with an absolute path, a ``..`` component, a link or a device is refused, and extraction stops once
the bytes actually written (not the sizes the headers claim) pass a bound. Callers extract into a
temporary folder (vqr1.fsutil.atomic_dir), so a refused or truncated archive leaves nothing behind.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO

from vqr1.errors import DataError

_CHUNK = 1 << 20


def _safe_relpath(archive: Path, name: str) -> PurePosixPath:
    """The member path, refused when it could land outside the extraction folder."""
    posix = name.replace("\\", "/")
    path = PurePosixPath(posix)
    if path.is_absolute() or (path.parts and ":" in path.parts[0]):
        raise DataError(f"{archive}: refused member {name!r}: absolute path")
    if ".." in path.parts:
        raise DataError(f"{archive}: refused member {name!r}: '..' path traversal")
    return path


class _Budget:
    """Counts bytes written across members; stops an archive that expands beyond ``limit``."""

    def __init__(self, archive: Path, limit: int) -> None:
        self.archive, self.limit, self.used = archive, limit, 0

    def claim(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise DataError(
                f"{self.archive}: expands beyond data.download.max_extract_bytes ({self.limit:,} bytes); "
                "refused as a possible archive bomb"
            )

    def copy(self, src: IO[bytes], dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as out:
            while chunk := src.read(_CHUNK):
                self.claim(len(chunk))
                out.write(chunk)


def _extract_zip(archive: Path, dest: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:  # check every member before writing any
            _safe_relpath(archive, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise DataError(f"{archive}: refused member {info.filename!r}: symbolic link")
        if sum(i.file_size for i in infos) > budget.limit:
            budget.claim(sum(i.file_size for i in infos))
        for info in infos:
            target = dest / _safe_relpath(archive, info.filename)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            with zf.open(info) as src:
                budget.copy(src, target)


def _extract_tar(archive: Path, dest: Path, budget: _Budget) -> None:
    with tarfile.open(archive, mode="r:*") as tf:
        for member in tf:  # streaming: a truncated tail fails here, inside the temporary folder
            rel = _safe_relpath(archive, member.name)
            if member.issym() or member.islnk():
                raise DataError(f"{archive}: refused member {member.name!r}: link to {member.linkname!r}")
            if member.isdir():
                (dest / rel).mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                src = tf.extractfile(member)
                if src is None:
                    raise DataError(f"{archive}: member {member.name!r} has no data")
                budget.copy(src, dest / rel)
            else:
                raise DataError(
                    f"{archive}: refused member {member.name!r}: device, fifo or other special file"
                )


_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<!--")


def refuse_html(path: Path, source: str, dataset: str) -> None:
    """Stop on a web page saved in place of a file: share and login pages answer scripts with HTML.

    Checked before the checksum is recorded, so a page never enters the lock as the set's archive.
    """
    with open(path, "rb") as f:
        head = f.read(1024).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(_HTML_STARTS):
        raise DataError(
            f"{dataset}: {source} gave an HTML page, not a data file (a share, login or consent page "
            "that answers scripts with HTML). Download the file in a browser, then set "
            f"data.sources.{dataset}.archive (or env VQR1_{dataset.upper()}_ARCHIVE, or "
            f"data.sources.{dataset}.parts.<part>.archive for one piece) to its local path, "
            "or give a direct mirror URL"
        )


def extract(archive: Path, dest: Path, max_bytes: int) -> None:
    """Extract ``archive`` (zip or tar) into the existing folder ``dest``; DataError on anything unsafe."""
    archive = Path(archive)
    budget = _Budget(archive, max_bytes)
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, dest, budget)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, dest, budget)
        else:
            raise DataError(f"{archive}: not a zip or tar archive, or truncated (no readable directory)")
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError) as exc:
        raise DataError(f"{archive}: truncated or corrupt archive ({type(exc).__name__}: {exc})") from exc
