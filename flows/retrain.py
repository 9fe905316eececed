"""The ``retrain`` flow: bring the data up to date, retrain only if it changed, then champion/challenger.

1. The data stages run (sources, download, normalize, the gate): DVC redoes only what changed, and the
   ``sources`` stage sees new archives, mirrors and environment overrides.
2. The workspace's data version (``data/validated`` as dvc.lock hashes it: labels, splits and every
   image's sha256) is compared with the one the champion was trained on (its run manifest's
   ``data_versions``). Unchanged: nothing is trained, the decision says why. ``force`` retrains anyway
   (a new training config, a new base model).
3. Otherwise the pipeline trains, evaluates and uploads the challenger, which is compared with the
   champion's recorded metrics under params ``promotion:``; ``registry/champion.json`` moves only on
   promotion. The decision and the comparison table become Prefect artifacts and
   ``registry/decisions/<run>.json``.

Scheduled: the ``scheduled-retrain`` deployment in prefect.yaml (cron, process work pool, the workspace
from ``VQR1_WORKSPACE`` at deploy time), or ``python -m flows.retrain serve WORKSPACE`` (``flow.serve``
with the same cron, no work pool). Once: ``python -m flows.retrain run WORKSPACE``. See docs/orchestration.md.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows import tasks
from flows.lock import pipeline_lock
from flows.pipeline import pipeline, prepare_data
from vqr1 import workspace as vqr1_workspace
from vqr1.config import load_params
from vqr1.storage import registry, s3

CRON = "0 3 * * 1"  # Mondays 03:00


@task(name="champion-challenger", **tasks.STORAGE_RETRIES)
def compare_and_promote(
    workspace: str, storage_dir: str | None, run_id: str, metrics: dict[str, Any]
) -> dict[str, Any]:
    """Gate the challenger against the champion, promote or keep, record the decision."""
    params = load_params(Path(workspace) / "params.yaml")
    settings = tasks.storage_settings(params, Path(storage_dir) if storage_dir else None)
    decision = registry.evaluate_challenger(s3.client(settings), settings, run_id, metrics, params.promotion)
    create_markdown_artifact(decision.markdown(), key="retrain-decision", description=decision.reason)
    create_table_artifact(
        [asdict(row) for row in decision.rows], key="champion-challenger", description="SRCC"
    )
    return asdict(decision)


def data_unchanged(workspace: str, storage_dir: str | None) -> str | None:
    """Why retraining is pointless (the champion was trained on this very data), or None."""
    current = tasks.data_version(workspace)
    tasks.storage_ready(workspace, storage_dir)
    champion_run, trained_on = tasks.champion_data_version(workspace, storage_dir)
    if champion_run is None or current is None or current != trained_on:
        return None
    return f"data unchanged since the champion {champion_run} was trained ({registry.DATA_VERSION} {current})"


@flow(name="retrain", log_prints=True)
def retrain(
    workspace: str,
    storage_dir: str | None = None,
    refresh_data: bool = False,
    force: bool = False,
    echo: bool = True,
) -> dict[str, Any]:
    """Update the data; unless it is what the champion was trained on (or ``force``), train, evaluate,
    upload the challenger and compare it with the champion."""
    ws = str(vqr1_workspace.check(workspace))
    with pipeline_lock(Path(ws)):
        prepare_data(Path(ws), refresh_data, echo)
    unchanged = None if force else data_unchanged(ws, storage_dir)
    if unchanged is not None:
        reason = f"{unchanged}: not retrained (force=true retrains anyway)"
        create_markdown_artifact(
            f"## Retrain skipped\n\n{reason}\n", key="retrain-decision", description=reason
        )
        print(reason)
        return {"workspace": ws, "retrained": False, "decision": {"promote": False, "reason": reason}}
    result = pipeline(ws, storage_dir=storage_dir, push=True, echo=echo)
    decision = compare_and_promote(ws, storage_dir, result["run_id"], result["metrics"])
    print(("PROMOTED " if decision["promote"] else "kept the champion; ") + decision["reason"])
    return {**result, "retrained": True, "decision": decision}


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("run", "serve"):
        sys.exit("usage: python -m flows.retrain run|serve WORKSPACE")
    command, target = sys.argv[1], str(Path(sys.argv[2]).resolve())
    if command == "serve":
        retrain.serve(name="scheduled-retrain", cron=CRON, parameters={"workspace": target})
    else:
        print(retrain(target)["decision"])
