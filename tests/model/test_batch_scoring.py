"""Batch scoring into Parquet: folders, globs, manifests, an `s3://` prefix on the embedded SeaweedFS, and
`--resume` after a real SIGKILL keeping every finished row and scoring nothing twice."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.fixtures_storage import SeaweedHandle
from vqr1.cli import app
from vqr1.inference.batch import parts_dir

FAST = ["--temperature", "0", "--max-new-tokens", "24"]


@pytest.fixture(scope="module")
def collection(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 images in two subfolders."""
    folder = tmp_path_factory.mktemp("collection")
    for i, src in enumerate(sorted((synth_root / "kadid10k" / "images").glob("*.png"))[:24]):
        (folder / f"part{i % 2}").mkdir(exist_ok=True)
        shutil.copy(src, folder / f"part{i % 2}" / src.name)
    return folder


def _score(model: Path, *args: str) -> object:
    return CliRunner().invoke(app, ["score", *args, "--model", str(model), *FAST])


def test_folder_glob_and_manifest_write_one_row_per_image(
    warm_model_dir: Path, collection: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    images = sorted(collection.rglob("*.png"))
    out = tmp_path / "folder.parquet"
    result = _score(warm_model_dir, str(collection / "part0"), "--out", str(out), "--texts")
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert sorted(table["path"]) == sorted(str(p) for p in images if p.parent.name == "part0")
    assert list(table.columns) == ["path", "score", "std", "scores", "error", "texts"]
    assert table["error"].isna().all() and table["score"].notna().all()
    assert not parts_dir(out).exists()
    manifest = tmp_path / "manifest.parquet"
    relative = [str(p.relative_to(collection)) for p in images[:3]]
    pq.write_table(pa.table({"path": relative}), collection / "manifest.parquet")
    shutil.move(collection / "manifest.parquet", manifest)
    assert (
        _score(warm_model_dir, str(manifest), "--out", "m.parquet").exit_code == 1
    )  # relative to its folder
    shutil.copy(manifest, collection / "manifest.parquet")
    result = _score(warm_model_dir, str(collection / "manifest.parquet"), "--out", "m2.parquet")
    assert result.exit_code == 0, result.output
    assert list(pd.read_parquet("m2.parquet")["path"]) == [str(collection / r) for r in relative]
    (collection / "manifest.parquet").unlink()
    result = _score(warm_model_dir, str(collection / "part1" / "*.png"), "--out", "g.parquet")
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet("g.parquet")) == 12
    refused = _score(warm_model_dir, str(collection / "part1" / "*.png"), "--out", "g.parquet")
    assert refused.exit_code != 0 and "--resume" in str(refused.exception)


def test_resume_after_sigkill_keeps_every_finished_row(
    warm_model_dir: Path, collection: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.parquet"
    command = [sys.executable, "-m", "vqr1", "score", str(collection), "--model", str(warm_model_dir)]
    command += [*FAST, "--batch-size", "2", "--out", str(out)]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list(parts_dir(out).glob("part-*.parquet"))) < 2:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "killed before the end: only parts"
    finished = pd.concat(pd.read_parquet(p) for p in sorted(parts_dir(out).glob("part-*.parquet")))
    assert 2 <= len(finished) < 24
    again = subprocess.run([*command, "--resume"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{24 - len(finished)} images scored, {len(finished)} already in" in again.stderr
    assert "img/s" in again.stderr  # the progress bar shows the rate
    table = pd.read_parquet(out)
    assert len(table) == 24 and table["path"].is_unique
    assert sorted(table["path"]) == sorted(str(p) for p in collection.rglob("*.png"))
    kept = table.set_index("path").loc[finished["path"]]
    assert list(kept["score"]) == list(finished["score"])  # the finished rows, as they were written
    assert not parts_dir(out).exists()


def test_an_s3_prefix_through_the_storage_settings(
    warm_model_dir: Path,
    collection: Path,
    s3_bucket,
    seaweed_server: SeaweedHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vqr1.storage import s3

    writer, _ = s3_bucket
    client = s3.client(writer)
    pictures = sorted(collection.rglob("*.png"))[:3]
    for p in pictures:
        client.upload_file(str(p), writer.bucket, f"photos/{p.name}")
    client.put_object(Bucket=writer.bucket, Key="photos/broken.png", Body=b"not a png")
    client.put_object(Bucket=writer.bucket, Key="other/skip.png", Body=b"x")
    monkeypatch.setenv("VQR1_STORAGE_DIR", str(seaweed_server.storage_dir))  # the embedded server's env file
    monkeypatch.chdir(tmp_path)
    result = _score(warm_model_dir, f"s3://{writer.bucket}/photos/", "--out", "s3.parquet")
    assert result.exit_code == 1, result.output  # one broken object
    table = pd.read_parquet("s3.parquet").set_index("path")
    expected = {f"s3://{writer.bucket}/photos/{n}" for n in [p.name for p in pictures] + ["broken.png"]}
    assert set(table.index) == expected
    assert (
        table["error"].notna().sum() == 1
        and "broken.png" in table.loc[f"s3://{writer.bucket}/photos/broken.png", "error"]
    )
    assert table["score"].notna().sum() == 3
