"""The real download path against a local HTTP server: resume, retries, checksums, the lock, manual sets."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.data import real_layouts
from tests.data.helpers import data_params
from tests.data.http_server import serve
from vqr1.data import catalogue, download, labels
from vqr1.errors import ConfigError, DataError


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sha256_override_mismatch_and_match(tmp_path: Path, synth_zip: Path) -> None:
    bad = data_params(sources={"synthetic": {"archive": str(synth_zip), "sha256": "0" * 64}})
    with pytest.raises(DataError, match="synthetic: checksum mismatch"):
        download.fetch("synthetic", tmp_path, bad, progress=False)
    assert not (tmp_path / "data/raw/synthetic").exists()
    good = data_params(sources={"synthetic": {"archive": str(synth_zip), "sha256": _sha(synth_zip)}})
    assert (download.fetch("synthetic", tmp_path, good, progress=False) / "kadid10k/dmos.csv").is_file()


def test_env_archive_override_and_truncated_archive(tmp_path: Path, synth_zip: Path, monkeypatch) -> None:
    cut = tmp_path / "kadid10k.zip"
    cut.write_bytes(synth_zip.read_bytes()[: synth_zip.stat().st_size // 2])
    monkeypatch.setenv("VQR1_SYNTHETIC_ARCHIVE", str(cut))
    with pytest.raises(DataError, match="truncated"):
        download.fetch("synthetic", tmp_path / "ws", data_params(), progress=False)
    assert not (tmp_path / "ws/data/raw/synthetic").exists()


def test_http_errors_fail_with_the_url(tmp_path: Path) -> None:
    with serve(tmp_path) as (base, log):
        data = data_params(sources={"synthetic": {"url": f"{base}/missing.zip"}})
        with pytest.raises(DataError, match="HTTP 404"):
            download.fetch("synthetic", tmp_path / "ws", data, progress=False)
    assert len(log.requests) == 1, "a 404 is not retried"


def test_unreachable_server_retries_then_fails(tmp_path: Path) -> None:
    data = data_params(sources={"synthetic": {"url": "http://127.0.0.1:9/none.zip"}})
    with pytest.raises(DataError, match="after 4 attempts"):
        download.fetch("synthetic", tmp_path, data, progress=False)


def test_manual_only_dataset_says_where_to_get_it(tmp_path: Path) -> None:
    data = data_params(datasets=["spaq"], train_datasets=[], eval_datasets=["spaq"])
    with pytest.raises(ConfigError) as caught:
        download.fetch("spaq", tmp_path, data, progress=False)
    lines = str(caught.value).splitlines()
    assert lines[0] == "spaq: SPAQ has no download source for SPAQ.zip"
    assert "  where: https://github.com/h4nwei/SPAQ (Google Drive / Baidu links)" in lines
    assert "  then add under data.sources in params.yaml:  spaq: {archive: /path/to/SPAQ.zip}" in lines
    assert "  or set in the environment:  VQR1_SPAQ_ARCHIVE=/path/to/SPAQ.zip" in lines
    assert "  or opt in to the iqa-pytorch mirror, which carries it: data.mirror: iqa-pytorch" in lines


def test_generated_synthetic_set(tmp_path: Path) -> None:
    data = data_params(synthetic={"references": 2, "types": 2, "width": 64, "height": 48})
    folder = download.fetch("synthetic", tmp_path, data, progress=False)
    assert len(pd.read_csv(folder / "kadid10k/dmos.csv")) == 2 * 2 * 5
    assert not (tmp_path / download.LOCK_FILE).exists(), "nothing downloaded, nothing locked"


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> real_layouts.Layouts:
    return real_layouts.build_all(tmp_path_factory.mktemp("layouts"))


def _eval_set(name: str, sources: dict) -> object:
    return data_params(datasets=[name], train_datasets=[], eval_datasets=[name], sources={name: sources})


def test_a_set_in_two_pieces_local_images_and_fetched_labels(
    tmp_path: Path, layouts: real_layouts.Layouts
) -> None:
    """AGIQA-3K publishes AGIQA-3K.zip and data.csv apart: each part gets its own source."""
    parts = layouts["agiqa3k"].parts
    with serve(parts["labels"].parent) as (base, log):
        data = _eval_set(
            "agiqa3k",
            {"parts": {"images": {"archive": str(parts["images"])}, "labels": {"url": f"{base}/data.csv"}}},
        )
        folder = download.fetch("agiqa3k", tmp_path, data, progress=False)
    assert (folder / "data.csv").read_bytes() == parts["labels"].read_bytes(), "a plain file is copied as is"
    assert (folder / "AGIQA-3K/AttnGAN_normal_000.jpg").is_file() and len(log.requests) == 1
    assert set(download.read_lock(tmp_path)["agiqa3k"]) == {"AGIQA-3K.zip", "data.csv"}
    assert len(labels.parse(folder, catalogue.get("agiqa3k"))) == layouts["agiqa3k"].count


def test_koniq_images_and_scores_zips_from_a_mirror(tmp_path: Path, layouts: real_layouts.Layouts) -> None:
    parts = layouts["koniq10k"].parts
    with serve(parts["images"].parent) as (base, _):
        sources = {"parts": {p: {"url": f"{base}/{f.name}"} for p, f in parts.items()}}
        folder = download.fetch("koniq10k", tmp_path, _eval_set("koniq10k", sources), progress=False)
    assert (folder / "koniq10k_scores_and_distributions.csv").is_file()
    assert len(list((folder / "1024x768").glob("*.jpg"))) == layouts["koniq10k"].count


def test_a_missing_part_names_its_key_and_an_unknown_part_is_refused(tmp_path: Path) -> None:
    agiqa = catalogue.get("agiqa3k")
    lines = catalogue.directions(agiqa, [agiqa.archives[0]], {"AGIQA-3K.zip": "ab" * 32})
    assert "  file AGIQA-3K.zip (about 3 GB), sha256 " + "ab" * 32 in lines
    assert (
        "  then add under data.sources in params.yaml:  agiqa3k: {parts: {images: {archive: /path/to/AGIQA-3K.zip}}}"
        in lines
    )
    assert not any("VQR1_AGIQA3K_ARCHIVE" in line for line in lines), "the env names the whole set only"
    data = _eval_set("koniq10k", {"parts": {"labels": {"url": "http://127.0.0.1:9/x.csv"}}})
    with pytest.raises(
        ConfigError, match=r"unknown part\(s\) \['labels'\]; KonIQ-10k has \['images', 'scores'\]"
    ):
        download.fetch("koniq10k", tmp_path, data, progress=False)


def test_an_html_page_in_place_of_the_archive_is_a_clear_error(tmp_path: Path) -> None:
    """Box shares (CLIVE's release) answer scripts with a web page; it must not pass for the archive."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "ChallengeDB-release").write_text(
        "\n<!DOCTYPE html>\n<html><head><title>Box</title></head></html>\n"
    )
    with serve(site) as (base, _):
        url = f"{base}/ChallengeDB-release"
        with pytest.raises(
            DataError, match=re.escape(url) + r" gave an HTML page.*data\.sources\.live_challenge\.archive"
        ):
            download.fetch(
                "live_challenge", tmp_path / "ws", _eval_set("live_challenge", {"url": url}), progress=False
            )
    assert not (tmp_path / "ws/data/raw/live_challenge").exists()
    assert not list((tmp_path / "ws/data/archives/live_challenge").iterdir()), "the page is not kept"
    assert not (tmp_path / "ws" / download.LOCK_FILE).exists(), "a page never enters the lock"
    local = site / "ChallengeDB_release.zip"
    local.write_text("<html><body>Sign in</body></html>")
    with pytest.raises(DataError, match=r"ChallengeDB_release\.zip gave an HTML page"):
        download.fetch(
            "live_challenge",
            tmp_path / "ws",
            _eval_set("live_challenge", {"archive": str(local)}),
            progress=False,
        )


def test_clive_has_no_scriptable_url() -> None:
    entry = catalogue.get("live_challenge")
    assert not any(a.url for a in entry.archives) and "box.com" in entry.homepage


def test_every_catalogued_file_has_an_expected_size_and_a_bound() -> None:
    data = data_params()
    for entry in catalogue.DATASETS.values():
        for piece in entry.archives:
            assert piece.size, f"{entry.name}/{piece.filename} has no expected size"
            assert catalogue.download_limit(entry, piece, data) == int(piece.size * 1.5)
    kadid = catalogue.get("kadid10k")
    raised = data_params(download={"max_bytes": {"kadid10k": 5_000_000_000}})
    assert catalogue.download_limit(kadid, kadid.archives[0], raised) == 5_000_000_000
    whole = catalogue.plan("kadid10k", data_params(sources={"kadid10k": {"url": "http://m/k.zip"}})).archives
    assert whole[0].size == kadid.archives[0].size, "a mirror of the whole set gets the set's size"
