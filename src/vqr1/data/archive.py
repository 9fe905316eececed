"""Safe archive extraction (zip, and tar plain or compressed with gzip, bzip2 or xz).

Dataset archives come from mirrors and from users' disks, so they are treated as hostile:

- the type is read from the file's first bytes before any parser touches it, so a stream of zeros or
  another format is refused at once (zipfile and tarfile probe a non-archive for minutes);
- a member with an absolute path, a ``..`` component, a link or a device is refused;
- expansion is bounded three ways, on the bytes actually written (not the sizes headers claim):
  ``max_extract_bytes`` in all, and a compression ratio (``max_ratio``) per member and over the whole
  archive, each with a 1 MiB allowance so small, very compressible files (a label csv) pass. Real image
  sets expand about 1:1; a zip bomb of zeros expands 1,000:1, bzip2 and xz bombs far more.

Callers extract into a temporary folder (vqr1.fsutil.atomic_dir), so a refused or truncated archive
leaves nothing behind.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from vqr1.errors import DataError, shorten

_CHUNK = 1 << 20
ALLOWANCE = 1 << 20  # bytes any member (and the archive) may write beyond its ratio bound
TAR_HEADER = 512  # counted per tar member, so millions of empty members are bounded too
# How far a decompressor may have read ahead of the bytes it returned (gzip reads 128 KiB at a time).
_READ_AHEAD = 256 << 10
_COMPRESSED_TAR = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}
_OTHER_FORMATS = {b"Rar!\x1a\x07": "a RAR archive", b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive"}


def _safe_relpath(archive: Path, name: str) -> PurePosixPath:
    """The member path, refused when it could land outside the extraction folder."""
    posix = name.replace("\\", "/")
    path = PurePosixPath(posix)
    if path.is_absolute() or (path.parts and ":" in path.parts[0]):
        raise DataError(f"{archive}: refused member {shorten(name)}: absolute path")
    if ".." in path.parts:
        raise DataError(f"{archive}: refused member {shorten(name)}: '..' path traversal")
    return path


def archive_kind(archive: Path) -> str:
    """``"zip"`` or ``"tar"`` from the file's first bytes (a compressed tar is opened to see its header)."""
    with open(archive, "rb") as f:
        head = f.read(512)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[257:262] == b"ustar":
        return "tar"
    for magic, opener in _COMPRESSED_TAR.items():
        if head.startswith(magic):
            try:
                with opener(archive, "rb") as inner:
                    block = inner.read(512)
            except (OSError, EOFError, lzma.LZMAError) as exc:
                raise DataError(f"{archive}: corrupt compressed file ({type(exc).__name__}: {exc})") from exc
            if block[257:262] == b"ustar":
                return "tar"
            raise DataError(f"{archive}: a compressed file that holds no tar archive; refused unread")
    for magic, what in _OTHER_FORMATS.items():
        if head.startswith(magic):
            raise DataError(f"{archive}: {what}; repack it as zip or tar")
    raise DataError(
        f"{archive}: not a zip or tar archive (it starts with {head[:8].hex(' ') or 'nothing: 0 bytes'}); "
        "refused unread"
    )


class _Budget:
    """Counts what extraction writes; stops past ``limit`` or past the ratio bound of a member or the whole.

    ``consumed`` tells how many compressed bytes of the archive have been read so far.
    """

    def __init__(self, archive: Path, limit: int, ratio: float, consumed: Callable[[], int]) -> None:
        self.archive, self.limit, self.ratio, self.consumed = archive, limit, ratio, consumed
        self.size = archive.stat().st_size
        self.used = 0

    def claim(self, n: int, member: str = "", member_used: int = 0, member_in: int = 0) -> None:
        self.used += n
        if self.used > self.limit:
            raise DataError(
                f"{self.archive}: expands beyond data.download.max_extract_bytes ({self.limit:,} bytes); "
                "refused as a possible archive bomb"
            )
        if self.used > self.size * self.ratio + ALLOWANCE:
            self._refuse(f"the archive expands past {self.ratio:g} x its {self.size:,} bytes")
        if member and member_used > member_in * self.ratio + ALLOWANCE:
            self._refuse(f"member {shorten(member)} expands past {self.ratio:g} x its compressed size")

    def _refuse(self, what: str) -> None:
        raise DataError(
            f"{self.archive}: {what} (data.download.max_ratio); refused as a possible archive bomb"
        )

    def copy(self, src: IO[bytes], dest: Path, member: str, compressed: int | None = None) -> None:
        """Stream one member; ``compressed`` is its stored size (zip), else read off the archive (tar)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        start, written = self.consumed(), 0
        with open(dest, "wb") as out:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                read = compressed if compressed is not None else self.consumed() - start + _READ_AHEAD
                self.claim(len(chunk), member, written, read)
                out.write(chunk)


def _extract_zip(archive: Path, dest: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:  # check every member before writing any
            _safe_relpath(archive, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise DataError(f"{archive}: refused member {shorten(info.filename)}: symbolic link")
            if info.file_size > info.compress_size * budget.ratio + ALLOWANCE:
                budget._refuse(
                    f"member {shorten(info.filename)} declares {info.file_size:,} bytes from "
                    f"{info.compress_size:,} compressed (more than {budget.ratio:g} x)"
                )
        if sum(i.file_size for i in infos) > budget.limit:
            budget.claim(sum(i.file_size for i in infos))
        for info in infos:
            target = dest / _safe_relpath(archive, info.filename)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            with zf.open(info) as src:  # zipfile stops at the declared size and checks the CRC
                budget.copy(src, target, info.filename, info.compress_size)


def _extract_tar(archive: Path, raw: BinaryIO, dest: Path, budget: _Budget) -> None:
    with tarfile.open(fileobj=raw, mode="r:*") as tf:
        for member in tf:  # streaming: a truncated tail fails here, inside the temporary folder
            budget.claim(TAR_HEADER)
            rel = _safe_relpath(archive, member.name)
            if member.issym() or member.islnk():
                raise DataError(
                    f"{archive}: refused member {shorten(member.name)}: link to {shorten(member.linkname)}"
                )
            if member.isdir():
                (dest / rel).mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                src = tf.extractfile(member)
                if src is None:
                    raise DataError(f"{archive}: member {shorten(member.name)} has no data")
                budget.copy(src, dest / rel, member.name)
            else:
                raise DataError(
                    f"{archive}: refused member {shorten(member.name)}: device, fifo or other special file"
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


def extract(archive: Path, dest: Path, max_bytes: int, max_ratio: float = 100.0) -> None:
    """Extract ``archive`` (zip or tar) into the existing folder ``dest``; DataError on anything unsafe."""
    archive = Path(archive)
    kind = archive_kind(archive)
    try:
        with open(archive, "rb") as raw:
            budget = _Budget(archive, max_bytes, max_ratio, raw.tell)
            if kind == "zip":
                _extract_zip(archive, dest, budget)
            else:
                _extract_tar(archive, raw, dest, budget)
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError, EOFError, OSError) as exc:
        raise DataError(f"{archive}: truncated or corrupt archive ({type(exc).__name__}: {exc})") from exc
