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
