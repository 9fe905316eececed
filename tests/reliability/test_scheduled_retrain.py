"""The scheduled retrain as it runs in production: deployed from prefect.yaml, executed by a process worker.

Real parts: `prefect deploy` of the committed prefect.yaml (workspace from VQR1_WORKSPACE), a `process`
work pool, `prefect worker start --run-once` running the flow in its own process against the session's
Prefect test server, real DVC stages, a real SeaweedFS holding a champion trained on this very data.
The run must update the data and stop without training; once the data changes, the same check asks for
a retrain.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from flows.retrain import data_unchanged
from prefect import flow
from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.settings import get_current_settings

from tests.conftest import REPO
from tests.fixtures_storage import SeaweedHandle
from vqr1 import layout, workspace
from vqr1.config import load_params
from vqr1.dvc_runner import dvc_bin
from vqr1.storage import artifacts, registry, s3

POOL = "vqr1-process"  # the work pool prefect.yaml names
SMALL = {"synthetic": {"references": 4, "types": 2, "width": 64, "height": 48}}


def _prefect(*args: str, env: dict[str, str], timeout: int = 300) -> str:
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("prefect")), "--no-prompt", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"prefect {' '.join(args)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def _dvc(ws: Path, *args: str) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([dvc_bin(), *args], cwd=ws, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _champion_on_this_data(ws: Path, writer: s3.S3Settings) -> str:
    """Upload stand-in results of a run on the workspace's current data and promote it."""
    weights = ws / "models/demo/adapter"
    weights.mkdir(parents=True)
    (weights / "adapter_config.json").write_text(json.dumps({"r": 8}))
    (ws / layout.EVAL_DIR).mkdir(parents=True)
    metrics = {"datasets": {"synthetic": {"srcc": 0.5}}, "mean": {"srcc": 0.5}}
    (ws / layout.EVAL_DIR / "metrics.json").write_text(json.dumps(metrics))
    run_id = artifacts.new_run_id()
    client = s3.client(writer)
    artifacts.upload_run(client, writer, ws, load_params(ws / "params.yaml"), run_id)
    assert registry.evaluate_challenger(
        client, writer, run_id, metrics, load_params(ws / "params.yaml").promotion
    ).promote
    return run_id


@flow(name="retrain-precheck")
def _precheck(ws: str, storage: str) -> str | None:
    return data_unchanged(ws, storage)


@pytest.mark.slow
@pytest.mark.fault(
    "scheduled retrain (prefect.yaml deployment, process worker) with data unchanged, then changed"
)
def test_scheduled_retrain_runs_only_when_the_data_changed(
    scorecard,
    tmp_path: Path,
    seaweed_server: SeaweedHandle,
    s3_bucket: tuple[s3.S3Settings, s3.S3Settings],
    prefect_harness: None,
) -> None:
    writer, _ = s3_bucket
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"data": SMALL, "storage": {"bucket": writer.bucket}}))
    ws = workspace.init(tmp_path / "ws", [REPO / "configs/demo.yaml", overlay])
    _dvc(ws, "repro", "validate")
    champion = _champion_on_this_data(ws, writer)

    env = {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url), "PWD": str(REPO)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    with get_client(sync_client=True) as client:
        if not any(p.name == POOL for p in client.read_work_pools()):
            _prefect("work-pool", "create", POOL, "--type", "process", env=env)
    _prefect("deploy", "--name", "weekly-retrain", env={**env, "VQR1_WORKSPACE": str(ws)})
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("retrain/weekly-retrain")
        assert deployment.parameters["workspace"] == str(ws)
        run = client.create_flow_run_from_deployment(
            deployment.id, parameters={"storage_dir": str(seaweed_server.storage_dir), "echo": False}
        )
    _prefect("worker", "start", "--pool", POOL, "--run-once", env=env, timeout=600)
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run.id).state
    assert state is not None and state.is_completed(), state
    decision = Artifact.get("retrain-decision")
    assert decision is not None and "data unchanged since the champion" in str(decision.data)
    client_s3 = s3.client(writer)
    assert artifacts.list_runs(client_s3, writer) == [champion], "a challenger was trained and uploaded"
    assert not (ws / layout.DVCLIVE_DIR).exists(), "the train stage ran"

    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["data"]["synthetic"]["seed"] = 7  # new images: the data version moves
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _dvc(ws, "repro", "validate")
    assert _precheck(str(ws), str(seaweed_server.storage_dir)) is None, "changed data must be retrained"
    scorecard.happened = (
        f"deployed from prefect.yaml into {POOL} with the workspace from VQR1_WORKSPACE; the worker's run "
        "updated the data, found the champion trained on the same data/validated and stopped (no train, no "
        "upload); after new images the same check asks for a retrain (before: the demo retrained weekly)"
    )
