"""The train stage killed with SIGKILL mid-run: the rerun resumes from the last complete checkpoint.

The kill comes from inside the stage, at a known point: a TrainerCallback's ``on_save`` for global step 2
(the Trainer calls it once checkpoint-2 is complete on disk) sends SIGKILL to its own process. So the run
always dies between steps 2 and 3, whatever the machine's speed, with nothing flushed or cleaned up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.model.test_train import make_params, workspace  # noqa: F401 (the train-stage workspace fixture)

KILL_AT = 2
# The stage run as `python -m vqr1.stages.train` runs it (as DVC does), with one callback added to the
# trainer it builds.
STAGE_KILLED_AFTER_SAVE = """
import os, runpy, signal, sys
from transformers import TrainerCallback
from vqr1.train import grpo

kill_at = int(sys.argv[1])

class KillAfterSave(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        if state.global_step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

build = grpo.build_trainer
grpo.build_trainer = lambda *a, callbacks=None, **kw: build(*a, callbacks=[*(callbacks or []), KillAfterSave()], **kw)
runpy.run_module("vqr1.stages.train", run_name="__main__")
"""


@pytest.mark.slow
@pytest.mark.fault(f"training killed with SIGKILL right after checkpoint-{KILL_AT} of 5")
def test_stage_killed_mid_run_resumes_from_its_last_checkpoint(
    scorecard,
    workspace: Path,  # noqa: F811
) -> None:
    make_params(workspace, max_steps=5, save_steps=1)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ckpt = workspace / "models" / "demo" / "checkpoints"
    first = subprocess.run(
        [sys.executable, "-c", STAGE_KILLED_AFTER_SAVE, str(KILL_AT)],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    killed_at = sorted(p.name for p in ckpt.glob("checkpoint-*"))
    assert killed_at == ["checkpoint-1", "checkpoint-2"]  # died after the step-2 save, before step 3
    assert not (workspace / "models" / "demo" / "adapter").exists()
    logged = pd.read_csv(workspace / "dvclive" / "plots" / "metrics" / "reward.tsv", sep="\t")
    assert logged["step"].tolist() == [1, 2]

    second = subprocess.run(
        [sys.executable, "-m", "vqr1.stages.train"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"resuming from {ckpt / f'checkpoint-{KILL_AT}'}" in second.stderr
    state = json.loads((ckpt / "checkpoint-5" / "trainer_state.json").read_text())
    assert state["global_step"] == 5
    rows = pd.read_csv(workspace / "dvclive" / "plots" / "metrics" / "reward.tsv", sep="\t")
    assert rows["step"].tolist() == [1, 2, 3, 4, 5]  # no step logged twice across the kill
    assert (workspace / "models" / "demo" / "adapter" / "adapter_config.json").is_file()
    checkpoints = sorted(p for p in ckpt.glob("checkpoint-*") if p.is_dir())
    half_written = [p.name for p in checkpoints if not (p / "trainer_state.json").is_file()]
    assert checkpoints and not half_written, f"half-written checkpoints left: {half_written}"
    scorecard.happened = (
        f"killed by SIGKILL from on_save at step {KILL_AT} ({killed_at} on disk); rerun resumed from "
        f"checkpoint-{KILL_AT}, finished at global_step 5, steps 1-5 logged once, adapter written"
    )
