"""Safe extraction: traversal, absolute paths, links, size bombs and truncation are refused."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from vqr1.data import archive
from vqr1.errors import DataError

LIMIT = 1_000_000


def _zip(path: Path, members: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, "/etc/passwd")
    return path


def _tar(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info in members:
            payload = (data or {}).get(info.name)
            if payload is not None:
                info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def test_good_zip_and_tar_extract(tmp_path: Path) -> None:
    z = _zip(tmp_path / "ok.zip", {"set/labels.csv": b"a,b\n", "set/images/x.png": b"png"})
    out = tmp_path / "z"
    out.mkdir()
    archive.extract(z, out, LIMIT)
    assert (out / "set/labels.csv").read_bytes() == b"a,b\n" and (out / "set/images/x.png").exists()
    t = _tar(tmp_path / "ok.tgz", [tarfile.TarInfo("set/x.txt")], {"set/x.txt": b"hello"})
    out_t = tmp_path / "t"
    out_t.mkdir()
    archive.extract(t, out_t, LIMIT)
    assert (out_t / "set/x.txt").read_bytes() == b"hello"


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ("../evil.txt", "traversal"),
        ("a/../../evil.txt", "traversal"),
        ("/etc/evil", "absolute"),
        ("C:/evil", "absolute"),
    ],
)
def test_zip_path_escapes_are_refused(tmp_path: Path, member: str, reason: str) -> None:
    z = _zip(tmp_path / "bad.zip", {"ok.txt": b"x", member: b"evil"})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match=reason):
        archive.extract(z, out, LIMIT)
    assert not list(out.rglob("*")), "nothing may be written when any member is unsafe"
    assert not (tmp_path / "evil.txt").exists()


def test_zip_symlink_is_refused(tmp_path: Path) -> None:
    z = _zip(tmp_path / "link.zip", {"ok.txt": b"x"}, symlink="set/passwd")
    with pytest.raises(DataError, match="symbolic link"):
        archive.extract(z, tmp_path, LIMIT)


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_tar_links_are_refused(tmp_path: Path, kind: bytes) -> None:
    link = tarfile.TarInfo("set/passwd")
    link.type, link.linkname = kind, "/etc/passwd"
    t = _tar(tmp_path / "link.tgz", [link])
    with pytest.raises(DataError, match="link"):
        archive.extract(t, tmp_path, LIMIT)


def test_tar_traversal_is_refused(tmp_path: Path) -> None:
    t = _tar(tmp_path / "trav.tgz", [tarfile.TarInfo("../evil.txt")], {"../evil.txt": b"x"})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match="traversal"):
        archive.extract(t, out, LIMIT)
    assert not (tmp_path / "evil.txt").exists()


def test_expansion_beyond_the_bound_is_refused(tmp_path: Path) -> None:
    zeros = b"\0" * (LIMIT + 1)  # compresses to ~1 kB: a small archive that expands past the bound
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.bin", zeros)
    assert z.stat().st_size < 10_000
    with pytest.raises(DataError, match="max_extract_bytes"):
        archive.extract(z, tmp_path, LIMIT)
    t = _tar(tmp_path / "bomb.tgz", [tarfile.TarInfo("big.bin")], {"big.bin": zeros})
    with pytest.raises(DataError, match="max_extract_bytes"):
        archive.extract(t, tmp_path / "t", LIMIT)


def test_truncated_archives_are_refused(tmp_path: Path) -> None:
    payload = {f"set/{i}.bin": bytes(range(256)) * 40 for i in range(5)}
    z = _zip(tmp_path / "full.zip", payload)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(z.read_bytes()[: z.stat().st_size // 2])
    with pytest.raises(DataError, match="truncated"):
        archive.extract(cut, tmp_path, LIMIT)
    t = _tar(tmp_path / "full.tgz", [tarfile.TarInfo(n) for n in payload], payload)
    cut_t = tmp_path / "cut.tgz"
    cut_t.write_bytes(t.read_bytes()[: t.stat().st_size // 2])
    with pytest.raises(DataError, match=r"cut\.tgz"):
        archive.extract(cut_t, tmp_path / "t", LIMIT)
