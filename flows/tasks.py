"""Prefect tasks shared by the ``pipeline`` and ``retrain`` flows.

DVC stages run as subprocesses, one ``dvc repro`` at a time (DVC holds a repo-wide lock), with this
environment's bin folder first on PATH so stage commands use the same packages.

Retries live in one layer each, so they never multiply: the download stage retries inside its HTTP
session (urllib3 Retry, vqr1.data.download) and its task does not retry at all; the storage tasks retry
the whole idempotent operation twice (STORAGE_RETRIES: a store restarting for a few seconds) on top of
boto3's own three attempts; training and evaluation never retry (a retry would only repeat a
deterministic failure). docs/orchestration.md gives the worst-case time of each.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.logging import get_run_logger

from vqr1 import layout
from vqr1.config import Params, load_params
from vqr1.data import gate_report
from vqr1.dvc_runner import run_dvc
from vqr1.errors import GateFailed, Vqr1Error
from vqr1.storage import artifacts, dvc_remote, registry, s3, seaweed

STAGES = ("sources", "download", "normalize", "validate", "train", "evaluate")
GATE_SUMMARY = layout.GATE_REPORT_DIR / "summary.json"
METRICS = layout.EVAL_DIR / "metrics.json"
STORAGE_RETRIES = dict(retries=2, retry_delay_seconds=[5, 20], retry_jitter_factor=0.5)


class StageFailed(Vqr1Error):
    """A DVC stage exited non-zero; the message carries the end of its output."""


@task(name="dvc-repro", task_run_name="dvc repro {stage}")
def repro(workspace: str, stage: str, force: bool = False, echo: bool = True) -> None:
    """Reproduce one stage (and nothing upstream: the flow runs the stages in order)."""
    get_run_logger().info("dvc repro %s in %s", stage, workspace)
    force_flag = ["--force"] if force else []
    run_dvc(Path(workspace), "repro", "--single-item", *force_flag, stage, echo=echo, error=StageFailed)


# No task retries: the stage's HTTP session already retried (a second layer would multiply the wait).
repro_download = repro.with_options(name="dvc-repro-download", retries=0)


@task(name="validate-gate")
def validate(workspace: str, echo: bool = True) -> dict[str, Any]:
    """The validate stage; a failed gate fails the flow with the gate report attached as an artifact."""
    ws = Path(workspace)
    started = time.time()
    try:
        run_dvc(ws, "repro", "--single-item", "validate", echo=echo, error=StageFailed)
    except StageFailed as exc:
        summary_path = ws / GATE_SUMMARY
        if summary_path.is_file() and summary_path.stat().st_mtime >= started:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            create_markdown_artifact(
                gate_report.gate_markdown(summary), key="data-gate", description="failed data gate"
            )
            raise GateFailed(f"{summary_path}: data gate failed; training was not started\n{exc}") from exc
        raise
    summary = json.loads((ws / GATE_SUMMARY).read_text(encoding="utf-8"))
    create_markdown_artifact(
        gate_report.gate_markdown(summary), key="data-gate", description="data gate report"
    )
    return summary


def metrics_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Per dataset, the model's row then each measured baseline's (same test images), then the means: the
    columns the demo prints and the artifact shows. ``note`` says in words why a correlation is undefined."""
    keys = ("srcc", "plcc", "krcc", "plcc_4pl")
    methods = {"ours": metrics, **metrics.get("baselines", {})}

    def row(dataset: str, method: str, m: dict[str, Any], n: Any, failures: Any) -> dict[str, Any]:
        figures = {k: m.get(k) for k in keys}
        return {"dataset": dataset, "method": method, **figures, "n": n, "parse_failure_rate": failures,
                "note": m.get("undefined") or ""}  # fmt: skip

    rows = [
        row(name, method, m, m.get("n"), m.get("parse_failure_rate") if method == "ours" else None)
        for name in metrics.get("datasets", {})
        for method, result in methods.items()
        if (m := result["datasets"][name])
    ]
    rows += [row("mean", method, result.get("mean", {}), None, None) for method, result in methods.items()]
    return rows


@task(name="publish-metrics")
def publish_metrics(workspace: str) -> dict[str, Any]:
    """Evaluation metrics as a Prefect table artifact and the evaluation report as a markdown artifact."""
    ws = Path(workspace)
    metrics = json.loads((ws / METRICS).read_text(encoding="utf-8"))
    create_table_artifact(metrics_rows(metrics), key="eval-metrics", description="evaluation metrics")
    report = ws / layout.EVAL_DIR / "report.md"
    if report.is_file():
        create_markdown_artifact(
            report.read_text(encoding="utf-8"), key="eval-report", description="evaluation report"
        )
    return metrics


def storage_settings(params: Params, storage_dir: Path | None) -> s3.S3Settings:
    return s3.resolve(params.storage, storage_dir=storage_dir)


@task(name="storage-ready", **STORAGE_RETRIES)
def storage_ready(workspace: str, storage_dir: str | None) -> None:
    """Start the embedded SeaweedFS when no external endpoint is configured; make sure the bucket exists."""
    params = load_params(Path(workspace) / "params.yaml")
    folder = Path(storage_dir) if storage_dir else s3.default_storage_dir()
    if s3.embedded(params.storage):
        seaweed.up(folder, [params.storage.bucket])
    settings = storage_settings(params, folder)
    s3.ensure_bucket(s3.client(settings), settings)


@task(name="data-version")
def data_version(workspace: str) -> str | None:
    """The workspace's data version (registry.DATA_VERSION, as dvc.lock records it after the gate)."""
    return registry.data_version(artifacts.data_versions(Path(workspace)))


@task(name="champion-data-version", **STORAGE_RETRIES)
def champion_data_version(workspace: str, storage_dir: str | None) -> tuple[str | None, str | None]:
    """(champion run id, the data version it was trained on), or (None, None) with no champion yet."""
    params = load_params(Path(workspace) / "params.yaml")
    settings = storage_settings(params, Path(storage_dir) if storage_dir else None)
    champion, _ = registry.read_champion(s3.client(settings), settings)
    if champion is None:
        return None, None
    return champion["run_id"], registry.data_version(champion.get("data_versions") or {})


@task(name="dvc-push", **STORAGE_RETRIES)
def dvc_push(workspace: str, storage_dir: str | None) -> str:
    """Configure the DVC default remote on the store and push data and models; returns the remote URL."""
    params = load_params(Path(workspace) / "params.yaml")
    settings = storage_settings(params, Path(storage_dir) if storage_dir else None)
    url = dvc_remote.configure(Path(workspace), params.storage, settings)
    dvc_remote.push(Path(workspace))
    return url


@task(name="upload-run", **STORAGE_RETRIES)
def upload_run(workspace: str, storage_dir: str | None, run_id: str) -> dict[str, Any]:
    """Upload the run's adapter, metrics, predictions and report under runs/<run-id>/ with its manifest."""
    params = load_params(Path(workspace) / "params.yaml")
    settings = storage_settings(params, Path(storage_dir) if storage_dir else None)
    manifest = artifacts.upload_run(s3.client(settings), settings, Path(workspace), params, run_id)
    return {
        "prefix": settings.uri(artifacts.run_prefix(run_id)),
        "files": len(manifest.files),
        "endpoint": settings.endpoint_url,
    }
