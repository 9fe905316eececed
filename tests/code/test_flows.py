"""The Prefect flows end to end: real DVC stages, tiny model, synthetic set, real SeaweedFS, Prefect harness."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from flows.pipeline import pipeline
from flows.retrain import CRON, retrain
from prefect.artifacts import Artifact
from prefect.client.schemas.schedules import CronSchedule
from prefect.flows import load_flow_from_entrypoint

from tests.fixtures_storage import REPO, SeaweedHandle
from vqr1 import workspace
from vqr1.config import load_params
from vqr1.errors import ConfigError, GateFailed
from vqr1.storage import artifacts, registry, s3

SMALL = {
    "data": {"synthetic": {"references": 4, "types": 2, "width": 96, "height": 72}},
    "train": {"grpo": {"max_steps": 2}},
    "evaluate": {"bootstrap": 20, "max_images": 16},
}


def make_workspace(root: Path, model_dir: Path, overlay: dict) -> Path:
    extra = root.parent / f"{root.name}-overlay.yaml"
    extra.write_text(yaml.safe_dump(overlay))
    ws = workspace.init(root, [REPO / "configs" / "demo.yaml", extra])
    shutil.copytree(model_dir, ws / "models" / "tiny", dirs_exist_ok=True)
    return ws


@pytest.mark.slow
def test_failed_gate_stops_the_flow_before_training(
    tmp_path: Path, tiny_model_dir: Path, prefect_harness: None
) -> None:
    overlay = {**SMALL, "data": {**SMALL["data"], "gate": {"min_side": 10_000}}}  # every image is "too small"
    ws = make_workspace(tmp_path / "ws", tiny_model_dir, overlay)
    with pytest.raises(GateFailed, match="data gate failed"):
        pipeline(str(ws), push=False, echo=False)
    assert not (ws / "models" / "demo").exists(), "training ran after a failed gate"
    assert not (ws / "data" / "validated").exists()
    report = Artifact.get("data-gate")
    assert report is not None and "FAILED" in str(report.data) and "synthetic" in str(report.data)


@pytest.mark.slow
def test_retrain_promotes_first_and_keeps_the_champion_against_a_worse_config(
    tmp_path: Path, warm_model_dir: Path, seaweed_server: SeaweedHandle, prefect_harness: None
) -> None:
    """The first usable model is promoted: usable means a mean SRCC, which needs scores that differ. At the
    profile's temperature 0.1 the tiny model may answer one score for every image (kernels differ per
    CPU); at 1.0 its sampled scores spread over the scale, so the first run has an SRCC on any machine."""
    bucket = "retrain-" + tmp_path.name.lower().replace("_", "-")[-20:]
    overlay = {**SMALL, "evaluate": {**SMALL["evaluate"], "temperature": 1.0}, "storage": {"bucket": bucket}}
    ws = make_workspace(tmp_path / "ws", warm_model_dir, overlay)
    storage = str(seaweed_server.storage_dir)
    settings = s3.resolve(
        load_params(ws / "params.yaml").storage, env={}, storage_dir=seaweed_server.storage_dir, readonly=True
    )
    client = s3.client(settings)

    first = retrain(str(ws), storage_dir=storage, refresh_data=False, echo=False)
    assert first["decision"]["promote"] is True, first["decision"]
    champion, etag = registry.read_champion(client, settings)
    assert champion is not None and champion["run_id"] == first["run_id"]
    assert first["s3"]["run"] == settings.uri(artifacts.run_prefix(first["run_id"]))
    assert first["metrics"] == json.loads((ws / "reports/eval/metrics.json").read_text())
    assert any(k.startswith("dvc/files/md5/") for k in s3.list_keys(client, settings, "dvc/"))
    artifacts.download_run(client, settings, first["run_id"], tmp_path / "champion")  # checksums verified
    assert (tmp_path / "champion" / "models" / "demo" / "adapter" / "adapter_config.json").is_file()
    table = Artifact.get("eval-metrics")
    assert table is not None and "synthetic" in str(table.data)

    # Nothing changed in the data since the champion was trained: no training, no new run.
    idle = retrain(str(ws), storage_dir=storage, echo=False)
    assert idle["retrained"] is False and "data unchanged since the champion" in idle["decision"]["reason"]
    assert artifacts.list_runs(client, settings) == [first["run_id"]]

    # A deliberately worse configuration, same data (force): two new tokens cannot hold an answer.
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["evaluate"]["max_new_tokens"] = 2
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    second = retrain(str(ws), storage_dir=storage, refresh_data=False, force=True, echo=False)
    assert second["decision"]["promote"] is False, second["decision"]
    assert second["decision"]["champion_run"] == first["run_id"]
    assert registry.read_champion(client, settings) == (champion, etag)
    assert artifacts.list_runs(client, settings) == sorted([first["run_id"], second["run_id"]])
    decision = Artifact.get("retrain-decision")
    assert decision is not None and "kept the champion" in str(decision.data)


def test_prefect_yaml_deployments_point_at_the_flows() -> None:
    doc = yaml.safe_load((REPO / "prefect.yaml").read_text())
    deployments = {d["name"]: d for d in doc["deployments"]}
    assert set(deployments) == {"weekly-retrain", "pipeline"}
    for name, flow_name in (("weekly-retrain", "retrain"), ("pipeline", "pipeline")):
        entry = deployments[name]
        loaded = load_flow_from_entrypoint(str(REPO / entry["entrypoint"]))
        assert loaded.name == flow_name
        assert set(entry["parameters"]) <= set(loaded.parameters.properties)
    (schedule,) = deployments["weekly-retrain"]["schedules"]
    assert schedule["cron"] == CRON and CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    for entry in deployments.values():  # a real workspace, chosen at deploy time; never the demo
        assert entry["parameters"]["workspace"] == "{{ $VQR1_WORKSPACE }}"
        assert entry["work_pool"]["name"] == "vqr1-process"


def test_flows_refuse_an_empty_or_foreign_workspace(tmp_path: Path) -> None:
    """An unset VQR1_WORKSPACE deploys as "": it must not fall back to the worker's folder (the checkout)."""
    with pytest.raises(ConfigError, match="VQR1_WORKSPACE"):
        workspace.check("")
    with pytest.raises(ConfigError, match="not a vqr1 workspace"):
        workspace.check(tmp_path)
    assert workspace.check(REPO) == REPO.resolve()


def test_summary_prints_baselines_beside_the_model_and_why_a_cell_is_empty() -> None:
    """The demo's table: the model and each baseline on the same test images; a model that gave one answer
    to every image says so in words, not only n/a."""
    import io

    from flows.pipeline import print_summary
    from flows.tasks import metrics_rows
    from rich.console import Console

    ours = {"srcc": None, "plcc": None, "krcc": None, "plcc_4pl": None, "n": 150, "parse_failure_rate": 0.0}
    ours["undefined"] = "one answer for all 150 images: 3.3"
    piqe = {"srcc": 0.41, "plcc": 0.38, "krcc": 0.29, "plcc_4pl": 0.4, "n": 150}
    metrics = {
        "datasets": {"synthetic": ours},
        "mean": {"srcc": None, "plcc": None, "krcc": None, "plcc_4pl": None},
        "baselines": {"piqe": {"datasets": {"synthetic": piqe}, "mean": {"srcc": 0.41}}},
    }
    rows = metrics_rows(metrics)
    assert [(r["dataset"], r["method"]) for r in rows] == [
        ("synthetic", "ours"),
        ("synthetic", "piqe"),
        ("mean", "ours"),
        ("mean", "piqe"),
    ]
    assert rows[0]["note"] == "one answer for all 150 images: 3.3" and rows[1]["srcc"] == 0.41
    out = io.StringIO()
    print_summary(
        {"metrics_table": rows, "run_id": "r", "local": {}, "s3": {}, "prefect_ui": "ui"},
        Console(file=out, width=200),
    )
    printed = out.getvalue()
    assert "one answer for all 150 images: 3.3" in printed and "0.4100" in printed
