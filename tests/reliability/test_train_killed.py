"""The train stage killed with SIGKILL mid-run: the rerun resumes from the last complete checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.model.test_train import make_params, workspace  # noqa: F401 (the train-stage workspace fixture)


@pytest.mark.slow
@pytest.mark.fault("training killed with SIGKILL after checkpoint-2 of 5")
def test_stage_killed_mid_run_resumes_from_its_last_checkpoint(
    scorecard,
    workspace: Path,  # noqa: F811
) -> None:
    make_params(workspace, max_steps=5, save_steps=2)
    stage = [sys.executable, "-m", "vqr1.stages.train"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ckpt = workspace / "models" / "demo" / "checkpoints"
    first = subprocess.Popen(
        stage, cwd=workspace, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while not (ckpt / "checkpoint-2" / "trainer_state.json").exists():
        assert first.poll() is None, "the stage exited before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint-2 within 240 s"
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not (workspace / "models" / "demo" / "adapter").exists()
    killed_at = sorted(p.name for p in ckpt.glob("checkpoint-*"))

    second = subprocess.run(stage, cwd=workspace, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resuming from" in second.stderr and "checkpoint-" in second.stderr
    state = json.loads((ckpt / "checkpoint-5" / "trainer_state.json").read_text())
    assert state["global_step"] == 5
    rows = pd.read_csv(workspace / "dvclive" / "plots" / "metrics" / "reward.tsv", sep="\t")
    assert rows["step"].tolist() == [1, 2, 3, 4, 5]  # no step logged twice across the kill
    assert (workspace / "models" / "demo" / "adapter" / "adapter_config.json").is_file()
    checkpoints = sorted(p for p in ckpt.glob("checkpoint-*") if p.is_dir())
    half_written = [p.name for p in checkpoints if not (p / "trainer_state.json").is_file()]
    assert checkpoints and not half_written, f"half-written checkpoints left: {half_written}"
    scorecard.happened = (
        f"killed with {killed_at} on disk; rerun resumed, finished at global_step 5, steps 1-5 logged once, "
        f"{len(checkpoints)} complete checkpoints, adapter written"
    )
