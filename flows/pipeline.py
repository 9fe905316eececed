"""The ``pipeline`` flow: the DVC stages in order, the data gate, metrics artifacts, push to S3.

sources -> download (its HTTP layer retries) -> normalize -> validate (gate: a failure stops the flow
before training and is attached as a markdown artifact) -> train -> evaluate -> metrics/report artifacts -> storage:
``dvc push`` to the default remote and the run's files under ``runs/<run-id>/`` with a manifest.
One run per workspace at a time (a second is refused). ``run_pipeline`` is what ``make demo`` calls.

    python -m flows.pipeline build/demo          # from the repo root: run once in a workspace
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

from prefect import flow
from rich.console import Console
from rich.table import Table

from flows import tasks
from flows.lock import pipeline_lock
from vqr1 import layout
from vqr1 import workspace as vqr1_workspace
from vqr1.storage import artifacts, s3

PREFECT_UI_HINT = (
    "Prefect UI: `prefect server start --host 127.0.0.1`, then open http://127.0.0.1:4200 "
    "(runs made without PREFECT_API_URL are stored in $PREFECT_HOME and show up there)"
)


@flow(name="pipeline", log_prints=True)
def pipeline(
    workspace: str,
    storage_dir: str | None = None,
    push: bool = True,
    run_id: str | None = None,
    refresh_data: bool = False,
    echo: bool = True,
) -> dict[str, Any]:
    """Run every stage of dvc.yaml in ``workspace`` and publish the results; returns a summary."""
    ws = vqr1_workspace.check(workspace)
    run_id = run_id or artifacts.new_run_id()
    with pipeline_lock(ws):
        prepare_data(ws, refresh_data, echo)
        tasks.repro(str(ws), "train", echo=echo)
        tasks.repro(str(ws), "evaluate", echo=echo)
        metrics = tasks.publish_metrics(str(ws))
        stored: dict[str, Any] = {}
        if push:
            tasks.storage_ready(str(ws), storage_dir)
            stored["dvc_remote"] = tasks.dvc_push(str(ws), storage_dir)
            stored.update(tasks.upload_run(str(ws), storage_dir, run_id))
    return summary(ws, run_id, metrics, stored)


def prepare_data(ws: Path, refresh_data: bool = False, echo: bool = True) -> None:
    """The data stages in order: sources, download (forced with ``refresh_data``), normalize, the gate."""
    tasks.repro(str(ws), "sources", echo=echo)  # what each download would read (env overrides too)
    tasks.repro_download(str(ws), "download", force=refresh_data, echo=echo)
    tasks.repro(str(ws), "normalize", echo=echo)
    tasks.validate(str(ws), echo=echo)


def summary(ws: Path, run_id: str, metrics: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """What the run produced and where it is (local paths, S3 keys), JSON-serialisable."""
    from vqr1.config import load_params
    from vqr1.train.heldout import heldout_curve

    params = load_params(ws / "params.yaml")
    curve = {
        step: None if math.isnan(v) else v
        for step, v in heldout_curve(layout.run_dir(ws, params.train)).items()
    }
    local = {
        "metrics": ws / layout.EVAL_DIR / "metrics.json",
        "report": ws / layout.EVAL_DIR / "report.md",
        "plots": ws / layout.EVAL_DIR / "plots",
        "predictions": ws / layout.EVAL_DIR / "predictions",
        "gate_report": ws / layout.GATE_REPORT_DIR / "index.html",
        "weights": layout.weights_dir(ws, params.train),
        "training_metrics": ws / layout.DVCLIVE_DIR / "metrics.json",
    }
    s3_keys = {}
    if stored:
        s3_keys = {
            "endpoint": stored.get("endpoint"),
            "dvc_remote": stored.get("dvc_remote"),
            "run": stored.get("prefix"),
            "manifest": f"{stored.get('prefix')}{artifacts.MANIFEST}",
            "files": stored.get("files"),
        }
    return {
        "run_id": run_id,
        "workspace": str(ws),
        "metrics": metrics,
        "metrics_table": tasks.metrics_rows(metrics),
        # held-out SRCC logged while training (train.heldout): before the first step and after the last
        "heldout": {"before": curve[min(curve)], "after": curve[max(curve)], "steps": max(curve)}
        if len(curve) > 1
        else None,
        "local": {k: str(v) for k, v in local.items() if v.exists()},
        "s3": s3_keys,
        "prefect_ui": PREFECT_UI_HINT,
    }


def run_pipeline(workspace: Path, storage_dir: Path | None = None, push: bool = True) -> dict[str, Any]:
    """Run the pipeline flow in ``workspace`` with the storage up (embedded SeaweedFS by default)."""
    folder = str(Path(storage_dir).resolve()) if storage_dir else str(s3.default_storage_dir())
    return pipeline(str(Path(workspace).resolve()), storage_dir=folder, push=push)


def _fmt(value: Any) -> str:
    return "n/a" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))


def print_summary(result: dict[str, Any], console: Console | None = None) -> None:
    """The metrics table, where the artifacts are, and how to open the Prefect UI."""
    console = console or Console()
    rows = result["metrics_table"]
    table = Table(title=f"evaluation metrics (run {result['run_id']})")
    for column in rows[0]:
        table.add_column(column, justify="left" if column in ("dataset", "method", "note") else "right")
    for row in rows:
        table.add_row(*(_fmt(v) for v in row.values()))
    console.print(table)
    if any(row.get("srcc") is None for row in rows):
        console.print(
            "n/a: a correlation is undefined when every image of the set got the same score (no ranking) "
            "or fewer than 3 images were scored (the note says which); a mean needs every dataset's figure"
        )
    if result.get("heldout"):
        h = result["heldout"]
        console.print(
            f"held-out SRCC while training (sampled answers on test references): {_fmt(h['before'])} before "
            f"training, {_fmt(h['after'])} after {h['steps']} steps"
        )
    for name, path in result["local"].items():
        console.print(f"  {name:>16}: {path}")
    for name, key in result["s3"].items():
        console.print(f"  {'s3 ' + name:>16}: {key}")
    console.print(result["prefect_ui"])


if __name__ == "__main__":
    print_summary(run_pipeline(Path(sys.argv[1] if len(sys.argv) > 1 else "build/demo")))
