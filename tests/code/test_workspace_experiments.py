"""An experiments workspace (``workspace.init(..., experiments=True)``): a git repository whose queued DVC
experiments run in DVC's own copies, where the code dependencies must still name the checkout."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.conftest import REPO
from vqr1 import workspace
from vqr1.dvc_runner import dvc_json, run_dvc


def test_queued_experiment_runs_in_dvc_copy_with_its_own_params(tmp_path: Path) -> None:
    ws = workspace.init(tmp_path / "ws", [REPO / "configs" / "demo.yaml"], REPO, experiments=True)
    code_deps = re.findall(r"^\s*- (\S+/src/vqr1/\S+\.py)$", (ws / "dvc.yaml").read_text(), re.MULTILINE)
    assert code_deps and all(Path(dep).is_absolute() and Path(dep).is_file() for dep in code_deps)
    workspace.commit(ws, "start")

    # the sources stage takes a fraction of a second; -S changes what the experiment records
    run_dvc(ws, "exp", "run", "--queue", "-n", "seven", "-S", "seed=7", "sources")
    run_dvc(ws, "queue", "start", "-j", "1")
    deadline = time.monotonic() + 240
    while any(w in run_dvc(ws, "queue", "status") for w in (" Queued", " Running")):
        assert time.monotonic() < deadline, run_dvc(ws, "queue", "status")
        time.sleep(2)

    shown = dvc_json(ws, "exp", "show")
    exps = {e["name"]: e for commit in shown for e in commit.get("experiments") or []}
    assert exps["seven"]["executor"]["state"] == "success", run_dvc(ws, "queue", "logs", "seven")
    params = exps["seven"]["revs"][0]["data"]["params"]["params.yaml"]["data"]
    assert params["seed"] == 7
