"""The real download path against a local HTTP server: resume, retries, checksums, the lock, manual sets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from tests.data.helpers import data_params
from tests.data.http_server import serve
from vqr1.data import download
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
    with pytest.raises(ConfigError, match=r"spaq: .*github.com/h4nwei/SPAQ.*data\.sources\.spaq\.archive"):
        download.fetch("spaq", tmp_path, data, progress=False)


def test_generated_synthetic_set(tmp_path: Path) -> None:
    data = data_params(synthetic={"references": 2, "types": 2, "width": 64, "height": 48})
    folder = download.fetch("synthetic", tmp_path, data, progress=False)
    assert len(pd.read_csv(folder / "kadid10k/dmos.csv")) == 2 * 2 * 5
    assert not (tmp_path / download.LOCK_FILE).exists(), "nothing downloaded, nothing locked"
