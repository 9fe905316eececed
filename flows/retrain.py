"""The ``retrain`` flow: refresh the data, run the pipeline, then champion/challenger promotion.

The challenger is the run the pipeline just uploaded. It is compared with the champion's recorded
metrics under params ``promotion:`` (mean SRCC must improve by at least ``min_srcc_gain``; no dataset
may drop by more than ``max_dataset_drop``); ``registry/champion.json`` moves only on promotion.
The decision and the comparison table become Prefect artifacts and ``registry/decisions/<run>.json``.

Scheduled: the ``weekly-retrain`` deployment in prefect.yaml (cron, process work pool), or
``python -m flows.retrain serve [workspace]`` (a long-running ``flow.serve`` with the same cron).
Once: ``python -m flows.retrain run [workspace]``.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows import tasks
from flows.pipeline import pipeline
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


@flow(name="retrain", log_prints=True)
def retrain(
    workspace: str = "build/demo",
    storage_dir: str | None = None,
    refresh_data: bool = True,
    echo: bool = True,
) -> dict[str, Any]:
    """Refresh data, run the pipeline (uploads the challenger), compare with the champion, decide."""
    ws = str(Path(workspace).resolve())
    result = pipeline(ws, storage_dir=storage_dir, push=True, refresh_data=refresh_data, echo=echo)
    decision = compare_and_promote(ws, storage_dir, result["run_id"], result["metrics"])
    print(("PROMOTED " if decision["promote"] else "kept the champion; ") + decision["reason"])
    return {**result, "decision": decision}


if __name__ == "__main__":
    command, *rest = sys.argv[1:] or ["run"]
    target = rest[0] if rest else "build/demo"
    if command == "serve":
        retrain.serve(name="weekly-retrain", cron=CRON, parameters={"workspace": str(Path(target).resolve())})
    elif command == "run":
        print(retrain(target)["decision"])
    else:
        sys.exit("usage: python -m flows.retrain [run|serve] [WORKSPACE]")
