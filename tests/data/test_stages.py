"""`dvc repro` through the data stages in a workspace made like the demo's (params + configs/demo.yaml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from vqr1 import workspace


def _dvc(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [workspace.dvc_bin(), *args], cwd=ws, env=env, capture_output=True, text=True, timeout=300
    )


def _workspace(tmp_path: Path, data: dict) -> Path:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"data": data}))
    return workspace.init(tmp_path / "ws", [REPO / "configs/demo.yaml", overlay], source=REPO)


@pytest.mark.slow
def test_repro_validate_on_the_generated_synthetic_set(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, {"synthetic": {"references": 4, "types": 3, "width": 64, "height": 48}})
    proc = _dvc(ws, "repro", "validate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((ws / "reports/gate/summary.json").read_text())
    assert summary["success"] and summary["datasets"]["synthetic"]["rows"] == 4 * 3 * 5
    assert (ws / "data/manifests/synthetic.parquet").is_file()
    assert (ws / "data/validated/synthetic.parquet").is_file()
    assert "Running stage 'train'" not in proc.stdout


@pytest.mark.slow
def test_broken_dataset_stops_repro_before_training(tmp_path: Path, synth_root: Path) -> None:
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
