"""`dvc repro` through the data stages in a workspace made like the demo's (params + configs/demo.yaml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from vqr1 import workspace
from vqr1.dvc_runner import dvc_bin


def _dvc(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([dvc_bin(), *args], cwd=ws, env=env, capture_output=True, text=True, timeout=300)


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
