"""Hostile archives: traversal, absolute paths, links and expansion bombs are refused, nothing written."""

from __future__ import annotations

import bz2
import io
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from tests.data import bombs
from tests.data.helpers import data_params
from tests.data.http_server import serve
from tests.data.test_archive import LIMIT, _tar, _zip
from vqr1.config import DownloadParams
from vqr1.data import archive, download
from vqr1.errors import DataError

DEFAULTS = DownloadParams()


def _written(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if not p.name.endswith((".zip", ".tgz"))]


@pytest.mark.fault("zip member with '..' or an absolute path")
@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ("../evil.txt", "traversal"),
        ("a/../../evil.txt", "traversal"),
        ("/etc/evil", "absolute"),
        ("C:/evil", "absolute"),
    ],
)
def test_zip_path_escapes_are_refused(scorecard, tmp_path: Path, member: str, reason: str) -> None:
    z = _zip(tmp_path / "bad.zip", {"ok.txt": b"x", member: b"evil"})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match=reason):
        archive.extract(z, out, LIMIT)
    assert not list(out.rglob("*")), "nothing may be written when any member is unsafe"
    assert not (tmp_path / "evil.txt").exists() and not Path("/etc/evil").exists()
    scorecard.fault += f": {member}"
    scorecard.happened = f"DataError ({reason}); nothing extracted"


@pytest.mark.fault("zip member that is a symbolic link")
def test_zip_symlink_is_refused(scorecard, tmp_path: Path) -> None:
    z = _zip(tmp_path / "link.zip", {"ok.txt": b"x"}, symlink="set/passwd")
    with pytest.raises(DataError, match="symbolic link"):
        archive.extract(z, tmp_path, LIMIT)
    assert _written(tmp_path) == []
    scorecard.happened = "DataError (symbolic link); nothing extracted"


@pytest.mark.fault("tar symlink / hardlink to /etc/passwd")
@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_tar_links_are_refused(scorecard, tmp_path: Path, kind: bytes) -> None:
    link = tarfile.TarInfo("set/passwd")
    link.type, link.linkname = kind, "/etc/passwd"
    t = _tar(tmp_path / "link.tgz", [link])
    with pytest.raises(DataError, match="link"):
        archive.extract(t, tmp_path, LIMIT)
    assert _written(tmp_path) == []
    scorecard.fault += f" ({'symlink' if kind == tarfile.SYMTYPE else 'hardlink'})"
    scorecard.happened = "DataError (link); nothing extracted"


@pytest.mark.fault("tar member with '..'")
def test_tar_traversal_is_refused(scorecard, tmp_path: Path) -> None:
    t = _tar(tmp_path / "trav.tgz", [tarfile.TarInfo("../evil.txt")], {"../evil.txt": b"x"})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match="traversal"):
        archive.extract(t, out, LIMIT)
    assert not (tmp_path / "evil.txt").exists() and not list(out.rglob("*"))
    scorecard.happened = "DataError (traversal); nothing extracted"


@pytest.mark.fault("zip/tar bomb: 1 kB expanding past max_extract_bytes")
@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_expansion_beyond_the_bound_is_refused(scorecard, tmp_path: Path, kind: str) -> None:
    zeros = b"\0" * (LIMIT + 1)  # compresses to ~1 kB: a small archive that expands past the bound
    bomb = tmp_path / f"bomb.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("big.bin", zeros)
    else:
        _tar(bomb, [tarfile.TarInfo("big.bin")], {"big.bin": zeros})
    assert bomb.stat().st_size < 10_000
    ws = tmp_path / "ws"
    data = data_params(sources={"synthetic": {"archive": str(bomb)}}, download={"max_extract_bytes": LIMIT})
    with pytest.raises(DataError, match="max_extract_bytes"):
        download.fetch("synthetic", ws, data, progress=False)
    raw = ws / "data" / "raw"
    assert not any(raw.iterdir()), f"left behind: {list(raw.iterdir())}"  # no data/raw/synthetic, no temp
    scorecard.fault += f" ({kind})"
    ratio = (LIMIT + 1) / bomb.stat().st_size
    scorecard.happened = (
        f"download stage: DataError (max_extract_bytes) on a {ratio:.0f}x {kind}; data/raw empty"
    )


@pytest.fixture(scope="module")
def bomb_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bombs of the measurement: 512 MiB of zeros in about 530 kB, as zip and as tar.gz; and a
    16 MiB tar.bz2 that compresses to about 100 bytes."""
    folder = tmp_path_factory.mktemp("bombs")
    tbz = folder / "bomb.tbz"
    with tarfile.open(tbz, "w:bz2") as tf:
        info = tarfile.TarInfo("big.bin")
        info.size = 16 << 20
        tf.addfile(info, io.BytesIO(bytes(info.size)))
    return {
        "zip": bombs.zip_bomb(folder / "bomb.zip", 512),
        "tar.gz": bombs.tgz_bomb(folder / "bomb.tgz", 512),
        "tar.bz2": tbz,
    }


def _bytes_in(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.mark.fault("compression bomb under the default bounds")
@pytest.mark.parametrize("kind", ["zip", "tar.gz", "tar.bz2"])
def test_compression_bombs_are_refused_by_their_ratio(
    scorecard, tmp_path: Path, bomb_files: dict[str, Path], kind: str
) -> None:
    bomb = bomb_files[kind]
    expands = 512 << 20 if kind != "tar.bz2" else 16 << 20
    out = tmp_path / "out"
    out.mkdir()
    started = time.perf_counter()
    with pytest.raises(DataError, match=r"data\.download\.max_ratio"):
        archive.extract(bomb, out, DEFAULTS.max_extract_bytes, DEFAULTS.max_ratio)
    elapsed = time.perf_counter() - started
    written = _bytes_in(out)
    assert written < 48 << 20, f"{written:,} bytes written before the refusal"

    ws = tmp_path / "ws"
    data = data_params(sources={"synthetic": {"archive": str(bomb)}})
    with pytest.raises(DataError, match="max_ratio"):
        download.fetch("synthetic", ws, data, progress=False)
    assert not any((ws / "data/raw").iterdir()) and not (ws / download.LOCK_FILE).exists()
    assert bomb.exists(), "a user's own archive is never deleted"
    scorecard.fault = f"{kind} bomb: {bomb.stat().st_size:,} bytes expanding to {expands >> 20} MiB"
    scorecard.happened = (
        f"refused by the ratio bound (100) in {elapsed:.2f} s after writing {written / 2**20:.1f} MiB; "
        "the download stage leaves data/raw empty and locks nothing"
    )


@pytest.mark.fault("1.5 GiB of zeros as the archive: local file, served with and without a length")
def test_a_stream_of_zeros_is_refused_quickly(scorecard, tmp_path: Path) -> None:
    zeros = tmp_path / "kadid10k.zip"
    with open(zeros, "wb") as f:
        f.truncate(3 << 29)  # a sparse file: 1.5 GiB of zeros on no disk
    ws = tmp_path / "ws"
    local = data_params(sources={"synthetic": {"archive": str(zeros)}})
    with pytest.raises(DataError, match=r"1,610,612,736 bytes is more than the [0-9,]+ this file may have"):
        download.fetch("synthetic", ws, local, progress=False)
    raised = data_params(
        sources={"synthetic": {"archive": str(zeros)}}, download={"max_bytes": {"synthetic": 2 << 30}}
    )
    started = time.perf_counter()
    with pytest.raises(DataError, match=r"not a zip or tar archive \(it starts with 00 00 00"):
        download.fetch("synthetic", ws, raised, progress=False)
    unread = time.perf_counter() - started

    streams = {"/announced.zip": (3 << 29, True), "/unannounced.zip": (3 << 29, False)}
    with serve(tmp_path, zeros=streams) as (base, log):
        started = time.perf_counter()
        for name, shown in (("announced", "1,610,612,736"), ("unannounced", "[0-9,]+")):
            data = data_params(sources={"synthetic": {"url": f"{base}/{name}.zip"}})
            with pytest.raises(DataError, match=rf"{shown} bytes is more than .* refused and deleted"):
                download.fetch("synthetic", ws, data, progress=False)
        served = time.perf_counter() - started
    assert len(log.requests) == 2, "a refused size is not retried"
    assert not list((ws / "data/archives/synthetic").iterdir()) and not (ws / download.LOCK_FILE).exists()
    scorecard.happened = (
        f"local: refused by its size (bound 1.5 x the expected size), or with the bound raised by its first "
        f"bytes in {unread * 1000:.0f} ms; served: refused on Content-Length before the body, or cut at the "
        f"bound without one ({served:.2f} s for both); nothing kept, nothing locked"
    )


@pytest.mark.fault("RAR, gzip without a tar, empty file in place of the archive")
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"Rar!\x1a\x07\x01\x00" + bytes(64), "a RAR archive; repack it as zip or tar"),
        (bz2.compress(b"a,b\n" * 100), "a compressed file that holds no tar archive"),
        (b"", "it starts with nothing: 0 bytes"),
    ],
)
def test_other_formats_are_named_and_refused_unread(
    scorecard, tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "set.zip"
    path.write_bytes(content)
    with pytest.raises(DataError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        archive.extract(path, tmp_path, LIMIT)
    scorecard.fault = f"{problem.split(';')[0]} in place of the archive"
    scorecard.happened = f"DataError: {problem}"
