"""Run ids, run names and dataset names with separators or shell metacharacters never reach a path or S3 key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vqr1.config import load_params
from vqr1.errors import ConfigError, StorageError
from vqr1.naming import check_name
from vqr1.storage.artifacts import run_prefix

REPO = Path(__file__).resolve().parents[2]
HOSTILE = [
    "../x",
    "a/b",
    "..",
    ".hidden",
    "-rf",
    "a;rm -rf ~",
    "$(id)",
    "a b",
    "a\nb",
    "`id`",
    "x" * 65,
    "",
    "a\\b",
]


@pytest.mark.fault("run ids with '/', '..' or shell metacharacters")
def test_hostile_run_ids_never_become_keys(scorecard) -> None:
    for value in HOSTILE:
        with pytest.raises(StorageError, match="invalid run id"):
            run_prefix(value)
    assert run_prefix("20261128T141417Z-6bc5d9") == "runs/20261128T141417Z-6bc5d9/"
    scorecard.happened = f"{len(HOSTILE)} hostile run ids refused before any S3 call"


@pytest.mark.fault("run names and dataset names in params with '/', '..' or '$(...)'")
def test_hostile_names_in_params_are_refused(scorecard, tmp_path: Path) -> None:
    for key, value in [("train", {"run_name": "../../etc"}), ("train", {"run_name": "$(id)"})]:
        overlay = tmp_path / "o.yaml"
        overlay.write_text(f"{key}:\n  run_name: '{value['run_name']}'\n")
        with pytest.raises(ConfigError, match=r"train\.run_name"):
            load_params(REPO / "params.yaml", [overlay])
    overlay = tmp_path / "d.yaml"
    overlay.write_text("data:\n  datasets: ['a/../b']\n  train_datasets: []\n  eval_datasets: []\n")
    with pytest.raises(ConfigError, match="dataset name"):
        load_params(REPO / "params.yaml", [overlay])
    scorecard.happened = "params refused at load time, naming the key; nothing written"


def test_safe_names_pass() -> None:
    for ok in ["kadid10k", "demo", "run-1.2_x", "A" * 64]:
        assert check_name("name", ok) == ok


@pytest.mark.fault("dataset name on the download stage's command line: '../../x', 'a;touch pwned', '$(id)'")
def test_hostile_dataset_name_on_the_stage_command_line_writes_nothing(scorecard, tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    for name in ["../../x", "a;touch pwned", "$(touch pwned)"]:
        done = subprocess.run(
            [sys.executable, "-m", "vqr1.stages.download", name],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0 and "invalid dataset name" in done.stderr, done.stderr[-500:]
        assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
    assert not (tmp_path.parent / "x").exists()
    scorecard.happened = "stage exits non-zero with one line 'invalid dataset name ...'; nothing created"
