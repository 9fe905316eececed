"""`vqr1 data status` and `vqr1 data catalogue`, the sources stage's full list of missing sets, and the
Google Drive downloader (gdown) from the moment a file arrives: Drive's own confirmation flow needs
drive.google.com, so it is served here as a plain URL that gdown fetches the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import REPO
from tests.data import real_layouts
from tests.data.helpers import data_params
from tests.data.http_server import serve
from vqr1 import layout
from vqr1.cli import app
from vqr1.config import deep_merge, load_params
from vqr1.data import catalogue, download, drive, status
from vqr1.errors import ConfigError, DataError
from vqr1.stages import sources

runner = CliRunner()
SETS = ["kadid10k", "spaq", "bid", "sriqa_bench"]


def _workspace(root: Path, sources: dict | None = None) -> Path:
    """params for four sets: kadid10k present and locked, sriqa_bench a Drive file, spaq and bid by hand."""
    root.mkdir(parents=True, exist_ok=True)
    data = {
        "datasets": SETS,
        "train_datasets": ["kadid10k"],
        "eval_datasets": SETS[1:],
        "sources": sources or {},
    }
    params = deep_merge(yaml.safe_load((REPO / "params.yaml").read_text()), {"data": data})
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    (layout.raw_dir(root, "kadid10k") / "kadid10k").mkdir(parents=True)
    download.record(root, "kadid10k", {"kadid10k.zip": "ab" * 32})
    return root


def _status(root: Path, *args: str):
    return runner.invoke(app, ["data", "status", "--root", str(root), *args])


def test_status_names_exactly_the_two_missing_sets_and_exits_1(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws")
    result = _status(ws)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    by_set = {line.split()[0]: line for line in lines[: len(SETS)]}
    assert list(by_set) == SETS and all(len(line) <= 80 for line in lines[: len(SETS) + 1])
    assert {name for name, line in by_set.items() if "MANUAL" in line} == {"spaq", "bid"}
    assert by_set["kadid10k"].endswith("present, locked (1 file)")
    assert by_set["sriqa_bench"].endswith("will download SRIQA-Bench.zip from Google Drive")
    assert lines[len(SETS)] == "2 of 4 sets present or downloadable; 2 to fetch by hand"
    assert (
        "  then add under data.sources in params.yaml:  bid: {archive: /path/to/ImageDatabase.zip}" in lines
    )
    assert "  or set in the environment:  VQR1_SPAQ_ARCHIVE=/path/to/SPAQ.zip" in lines
    assert "  file SPAQ.zip (about 35 GB), sha256 unknown (locked on first use)" in lines
    assert not any(line.startswith(("kadid10k", "sriqa_bench")) for line in lines[len(SETS) + 1 :])


def test_status_exits_0_once_every_missing_set_is_given(tmp_path: Path) -> None:
    given = {}
    for name, filename in (("spaq", "SPAQ.zip"), ("bid", "ImageDatabase.zip")):
        (tmp_path / filename).write_bytes(b"PK\x03\x04")
        given[name] = {"archive": str(tmp_path / filename)}
    ws = _workspace(tmp_path / "ws", {"spaq": given["spaq"], "bid": {"archive": str(tmp_path / "gone.zip")}})
    result = _status(ws)
    assert result.exit_code == 1 and "bid             MANUAL: gone.zip not found, see below" in result.output
    ws2 = _workspace(tmp_path / "ws2", given)
    result = _status(ws2, "--verbose")
    assert result.exit_code == 0, result.output
    assert "  kadid10k.zip: sha256 " + "ab" * 32 in result.output.splitlines(), "--verbose shows details"


def test_the_sources_stage_fails_with_the_same_full_list(tmp_path: Path, monkeypatch) -> None:
    ws = _workspace(tmp_path / "ws")
    monkeypatch.chdir(ws)
    with pytest.raises(ConfigError) as caught:
        sources.record_sources()
    text = str(caught.value)
    expected = status.report(status.workspace_status(ws, load_params(ws / "params.yaml").data))
    assert text == "datasets missing (vqr1 data status):\n" + "\n".join(expected)
    assert "spaq: {archive:" in text and "bid: {archive:" in text


def test_the_catalogue_is_one_line_per_set_in_80_columns() -> None:
    plain = runner.invoke(app, ["data", "catalogue"])
    assert plain.exit_code == 0
    lines = plain.output.splitlines()
    assert len(lines) == len(catalogue.DATASETS) + 2 and all(len(line) <= 80 for line in lines)
    row = {line.split()[0]: line for line in lines[1:-1]}
    assert row["spaq"].endswith("manual, mirror iqa-pytorch (opt-in)")
    assert row["agiqa3k"].endswith("images: Drive file, labels: authors' URL")
    verbose = runner.invoke(app, ["data", "catalogue", "--verbose"]).output
    assert "    licence: non-commercial academic research only, no redistribution (AFINE README)" in (
        verbose.splitlines()
    )


def test_drive_ids_are_those_the_authors_publish() -> None:
    """AFINE README (SRIQA-Bench) and the AGIQA-3k-Database README give these file/d/<id>/view links."""
    sriqa, agiqa = catalogue.get("sriqa_bench").archives[0], catalogue.get("agiqa3k").archives[0]
    assert sriqa.url == "https://drive.google.com/uc?id=1LhtLNDl6Jxwi6CPPVjX2_w4zIDRLFfbO"
    assert agiqa.url == "https://drive.google.com/uc?id=1ObuOZ6YZqZuxe4oRlaf3kdOBlTRg2GE4"
    assert {catalogue.source_kind(sriqa), catalogue.source_kind(agiqa)} == {"drive"}


def test_gdown_fetches_within_the_bound_and_deletes_an_oversized_file(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "SRIQA-Bench.zip").write_bytes(b"x" * 5000)
    opts = data_params().download
    with serve(site, zeros={"/big.zip": (3 << 20, True), "/endless.zip": (3 << 20, False)}) as (base, _):
        got = drive.fetch(f"{base}/SRIQA-Bench.zip", tmp_path / "a/SRIQA-Bench.zip", opts, 10_000, "s", False)
        assert got.read_bytes() == b"x" * 5000
        for name in ("big.zip", "endless.zip"):
            with pytest.raises(DataError, match=r"over the bound of 1,000,000"):
                drive.fetch(f"{base}/{name}", tmp_path / f"b/{name}", opts, 1_000_000, name, False)
    assert not list((tmp_path / "b").iterdir()), "no partial file is left to resume"


def test_a_drive_file_that_arrived_is_verified_extracted_and_locked(tmp_path: Path) -> None:
    """Where the Drive download puts SRIQA-Bench.zip, the stage reads it like any download."""
    fixture = real_layouts.sriqa_bench(tmp_path / "fx")
    ws = tmp_path / "ws"
    arrived = ws / layout.ARCHIVES_DIR / "sriqa_bench" / "SRIQA-Bench.zip"
    arrived.parent.mkdir(parents=True)
    arrived.write_bytes(fixture.parts["archive"].read_bytes())
    data = data_params(datasets=["sriqa_bench"], train_datasets=[], eval_datasets=["sriqa_bench"])
    folder = download.fetch("sriqa_bench", ws, data, progress=False)
    assert list(folder.rglob("MOS/*.txt"))
    assert set(download.read_lock(ws)["sriqa_bench"]) == {"SRIQA-Bench.zip"}
    download.record(ws, "sriqa_bench", {"SRIQA-Bench.zip": "00" * 32})  # a later, different file
    (ws / "data/raw/sriqa_bench").rename(ws / "old")
    with pytest.raises(DataError, match="sriqa_bench: checksum mismatch"):
        download.fetch("sriqa_bench", ws, data, progress=False)


def test_the_download_stage_of_a_set_with_no_source_gives_the_full_list(tmp_path: Path, monkeypatch) -> None:
    from vqr1.stages import download as stage

    monkeypatch.chdir(_workspace(tmp_path / "ws"))
    with pytest.raises(ConfigError, match=r"(?s)datasets missing.*\nspaq .*MANUAL.*\nbid .*MANUAL"):
        stage.download_dataset("bid")
