"""Hostile archives: traversal, absolute paths, links and expansion bombs are refused, nothing written."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.data.helpers import data_params
from tests.data.test_archive import LIMIT, _tar, _zip
from vqr1.data import archive, download
from vqr1.errors import DataError


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
