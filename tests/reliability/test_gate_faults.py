"""The data gate under `dvc repro`: bad data stops the pipeline before training; once fixed, the rerun
starts at the gate instead of redoing the finished stages."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.data.test_stages import _dvc, _workspace


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
@pytest.mark.fault("corrupt image inside the dataset archive")
def test_broken_dataset_stops_repro_before_training(scorecard, tmp_path: Path, synth_root: Path) -> None:
    broken = tmp_path / "broken.zip"
    victim = "kadid10k/images/I02_03_04.png"  # a listed image, corrupted inside the archive
    with zipfile.ZipFile(broken, "w") as zf:
        for path in sorted((synth_root / "kadid10k").rglob("*")):
            if path.is_file():
                name = path.relative_to(synth_root).as_posix()
                zf.writestr(name, path.read_bytes()[:200] if name == victim else path.read_bytes())
    ws = _workspace(
        tmp_path,
        {"sources": {"synthetic": {"archive": str(broken)}}, "synthetic": {"width": 128, "height": 96}},
    )
    proc = _dvc(ws, "repro", "train")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "data gate failed" in output and victim in output
    assert "Running stage 'train'" not in output
    summary = json.loads((ws / "reports/gate/summary.json").read_text())
    [failure] = summary["datasets"]["synthetic"]["failed"]
    assert failure["column"] == "decodes" and failure["examples"][0]["image"].endswith(victim)
    assert (ws / "reports/gate/index.html").is_file()
    assert not (ws / "data/validated").exists() and not (ws / "models/demo").exists()
    assert (ws / "datasets.lock.yaml").is_file(), "the local archive's checksum is recorded"
    scorecard.happened = (
        "`dvc repro train` stopped at the gate naming the image; no validated data, no training"
    )


@pytest.mark.slow
@pytest.mark.fault("data gate fails, data fixed, pipeline rerun")
def test_rerun_after_fixing_the_data_continues_from_the_gate(scorecard, tmp_path: Path) -> None:
    ws = _workspace(tmp_path, {"synthetic": {"references": 4, "types": 2, "width": 64, "height": 48}})
    first = _dvc(ws, "repro", "normalize")
    assert first.returncode == 0, first.stdout + first.stderr
    victim = sorted((ws / "data/raw/synthetic/kadid10k/images").glob("*.png"))[3]
    good = victim.read_bytes()
    victim.unlink()  # a new file: DVC's cache copy (even if linked) stays intact
    victim.write_bytes(good[:200])
    manifests = _mtimes(ws / "data/manifests")

    failed = _dvc(ws, "repro", "--single-item", "validate")  # the flow runs each stage on its own
    assert failed.returncode != 0 and "data gate failed" in failed.stdout + failed.stderr
    assert victim.name in failed.stdout + failed.stderr
    assert not (ws / "data/validated").exists()

    victim.unlink()
    victim.write_bytes(good)  # the data is fixed
    raw = _mtimes(ws / "data/raw")
    status = json.loads(_dvc(ws, "status", "--json").stdout)
    assert "download@synthetic" not in status and "normalize" not in status and "validate" in status, status
    rerun = _dvc(ws, "repro", "validate")
    out = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, out
    assert "Running stage 'validate'" in out
    assert "Running stage 'download" not in out and "Running stage 'normalize'" not in out, out
    assert _mtimes(ws / "data/raw") == raw and _mtimes(ws / "data/manifests") == manifests
    assert json.loads((ws / "reports/gate/summary.json").read_text())["success"] is True
    assert (ws / "data/validated/synthetic.parquet").is_file()
    scorecard.happened = (
        "gate failed naming the corrupt image; after the fix `dvc status` listed validate but not download/"
        "normalize; rerun ran only validate (raw data and manifests untouched) and passed"
    )
