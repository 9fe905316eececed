"""The IQA-PyTorch mirror through huggingface_hub against a local server answering the Hub's resolve URLs
(HF_ENDPOINT), with fixtures in the mirror's published layout (tests/data/real_layouts.py cites it)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from tests.data import real_layouts
from tests.data.helpers import data_params
from tests.data.http_server import serve_hub
from vqr1.data import catalogue, download, normalize
from vqr1.errors import DataError

REPO = catalogue.MIRRORS["iqa-pytorch"].repo
SETS = list(real_layouts.MIRROR_FOLDERS)


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> real_layouts.Layouts:
    return real_layouts.build_all(tmp_path_factory.mktemp("layouts"))


@pytest.fixture(scope="module")
def mirror(layouts: real_layouts.Layouts, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("mirror")
    return {real_layouts.MIRROR_FOLDERS[n][0]: real_layouts.mirror_archive(layouts[n], out) for n in SETS}


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch):
    """huggingface_hub read HF_HUB_OFFLINE=1 at import (the suite's setting): allow the local Hub only."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)

    def point(base: str) -> None:
        monkeypatch.setenv("HF_ENDPOINT", base)

    return point


def _params(layouts: real_layouts.Layouts, names: list[str], **extra):
    return data_params(
        datasets=names,
        train_datasets=[],
        eval_datasets=names,
        reference_labels={"dir": str(layouts.reference_dir)},
        gate={"expected_counts": {n: layouts[n].count for n in names}},
        **extra,
    )


def _authors_sources(layouts: real_layouts.Layouts, names: list[str]) -> dict:
    sources = {}
    for name in names:
        parts = layouts[name].parts
        if list(parts) == ["archive"]:
            sources[name] = {"archive": str(parts["archive"])}
        else:
            sources[name] = {"parts": {p: {"archive": str(f)} for p, f in parts.items()}}
    return sources


def _comparable(root: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """A manifest keyed by image file name, with each image's bytes hashed (folders differ by mirror)."""
    out = frame.assign(
        name=[Path(p).name for p in frame["image"]],
        sha=[hashlib.sha256((root / p).read_bytes()).hexdigest() for p in frame["image"]],
    )
    return out.drop(columns="image").sort_values("name").reset_index(drop=True)


def test_the_mirror_gives_the_same_manifest_as_the_authors_archives(
    tmp_path: Path, layouts: real_layouts.Layouts, mirror: dict[str, Path], online
) -> None:
    authors = _params(layouts, SETS, sources=_authors_sources(layouts, SETS))
    mirrored = _params(layouts, SETS, mirror="iqa-pytorch")
    with serve_hub(REPO, mirror) as (base, log):
        online(base)
        for name in SETS:
            download.fetch(name, tmp_path / "a", authors, progress=False)
            download.fetch(name, tmp_path / "m", mirrored, progress=False)
    for name in SETS:
        a = normalize.build_manifest(tmp_path / "a", name, authors, progress=False)
        m = normalize.build_manifest(tmp_path / "m", name, mirrored, progress=False)
        assert len(m) == layouts[name].count
        pd.testing.assert_frame_equal(_comparable(tmp_path / "a", a), _comparable(tmp_path / "m", m))
    lock = download.read_lock(tmp_path / "m")
    for filename, path in mirror.items():
        name = next(n for n in SETS if real_layouts.MIRROR_FOLDERS[n][0] == filename)
        assert lock[name] == {filename: hashlib.sha256(path.read_bytes()).hexdigest()}
    asked = {r for r, _ in log.requests}
    assert f"HEAD /datasets/{REPO}/resolve/main/koniq10k.tgz" in asked
    assert "GET /cdn/spaq.tgz" in asked, "the bytes come from the CDN the Hub's redirect names"


def test_a_cut_mirror_transfer_is_resumed(
    tmp_path: Path, layouts: real_layouts.Layouts, mirror: dict[str, Path], online, monkeypatch
) -> None:
    from huggingface_hub import constants

    # chunks smaller than the fixture (10 MiB by default), so that a part of the body is on disk at the cut
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 1024)
    data = _params(layouts, ["live_challenge"], mirror="iqa-pytorch")
    with serve_hub(REPO, mirror, cut_first=True) as (base, log):
        online(base)
        download.fetch("live_challenge", tmp_path, data, progress=False)
    sent = mirror["live_challenge.tgz"]
    gets = [r for path, r in log.requests if path == "GET /cdn/live_challenge.tgz"]
    assert len(gets) == 2 and gets[0] is None, gets
    start = int(gets[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= sent.stat().st_size // 3, "huggingface_hub resumed from the bytes it had"
    assert download.read_lock(tmp_path)["live_challenge"] == {
        "live_challenge.tgz": hashlib.sha256(sent.read_bytes()).hexdigest()
    }


def test_koniq_keeps_the_papers_resolution_and_refuses_the_other_alone(
    tmp_path: Path, layouts: real_layouts.Layouts, mirror: dict[str, Path], online
) -> None:
    data = _params(layouts, ["koniq10k"], mirror="iqa-pytorch")
    with serve_hub(REPO, mirror) as (base, _):
        online(base)
        folder = download.fetch("koniq10k", tmp_path / "ws", data, progress=False)
    assert len(list(folder.rglob("1024x768/*.jpg"))) == layouts["koniq10k"].count
    assert not list(folder.rglob("512x384")), "the 512x384 copies are not kept beside the 1024x768 ones"
    small = real_layouts.mirror_archive(layouts["koniq10k"], tmp_path / "small", resolutions=("512x384",))
    only_small = _params(layouts, ["koniq10k"], sources={"koniq10k": {"archive": str(small)}})
    with pytest.raises(DataError, match=r"koniq10k: the archive holds the images at 512x384 only.*1024x768"):
        download.fetch("koniq10k", tmp_path / "ws2", only_small, progress=False)
    assert not (tmp_path / "ws2/data/raw/koniq10k").exists()
    assert "koniq10k" not in download.read_lock(tmp_path / "ws2")


def test_a_mirror_file_with_the_wrong_checksum_is_refused_and_not_locked(
    tmp_path: Path, layouts: real_layouts.Layouts, mirror: dict[str, Path], online
) -> None:
    data = _params(layouts, ["spaq"], mirror="iqa-pytorch")
    ws = tmp_path / "ws"
    with serve_hub(REPO, mirror, sha256={"spaq.tgz": "ab" * 32}) as (base, _):
        online(base)
        with pytest.raises(DataError, match=r"spaq: checksum mismatch .*expected abab.*the Hub's metadata"):
            download.fetch("spaq", ws, data, progress=False)
    assert not (ws / "data/archives/spaq/spaq.tgz").exists(), "the refused file is deleted"
    assert not (ws / "data/raw/spaq").exists() and "spaq" not in download.read_lock(ws)
    # once locked, a mirror that announces another sha256 is refused before any byte moves
    download.record(ws, "spaq", {"spaq.tgz": "cd" * 32})
    with serve_hub(REPO, mirror) as (base, log):
        online(base)
        with pytest.raises(DataError, match=r"differs from the locked cdcd.*nothing downloaded"):
            download.fetch("spaq", ws, data, progress=False)
    assert [r for r, _ in log.requests if r.startswith("GET")] == []


def test_a_mirror_file_over_the_bound_is_refused_before_the_download(
    tmp_path: Path, layouts: real_layouts.Layouts, mirror: dict[str, Path], online
) -> None:
    data = _params(layouts, ["kadid10k"], mirror="iqa-pytorch", download={"max_bytes": {"kadid10k": 100}})
    with serve_hub(REPO, mirror) as (base, log):
        online(base)
        with pytest.raises(DataError, match=r"kadid10k/kadid10k\.tgz: the Hub announces [\d,]+ bytes, over"):
            download.fetch("kadid10k", tmp_path, data, progress=False)
    assert [r for r, _ in log.requests if r.startswith("GET")] == []


def test_the_mirror_is_opt_in_and_user_sources_come_first() -> None:
    plain = catalogue.plan("kadid10k", data_params())
    assert catalogue.source_kind(plain.archives[0]) == "url"
    opted = data_params(mirror="iqa-pytorch")
    piece = catalogue.plan("kadid10k", opted).archives[0]
    assert piece.url == f"hf://datasets/{REPO}@main/kadid10k.tgz"
    assert catalogue.parse_hub_url(piece.url) == (REPO, "main", "kadid10k.tgz")
    mine = data_params(mirror="iqa-pytorch", sources={"kadid10k": {"url": "http://m/k.zip"}})
    assert catalogue.plan("kadid10k", mine).archives[0].url == "http://m/k.zip"
    assert catalogue.resolve("bid", opted).missing, "the mirror does not carry BID"
