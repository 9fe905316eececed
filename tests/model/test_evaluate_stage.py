"""Evaluating a workspace (the evaluate stage): demo profile, synthetic set, tiny model + a LoRA adapter."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from vqr1 import workspace
from vqr1.behaviour import graded_pairs
from vqr1.config import load_params
from vqr1.dvc_runner import dvc_bin
from vqr1.errors import ConfigError, DataError
from vqr1.evaluate import report
from vqr1.evaluate.evaluation import evaluate_workspace

REPO = Path(__file__).resolve().parents[2]
N_IMAGES = 16


def _validated(ws: Path, labels: pd.DataFrame) -> None:
    """data/validated/synthetic.parquet as the validate stage writes it (contract columns)."""
    mos_raw = labels["dmos"].astype(float)
    frame = pd.DataFrame(
        {
            "image": [f"data/raw/synthetic/kadid10k/images/{n}" for n in labels["dist_img"]],
            "dataset": "synthetic",
            "ref_id": labels["ref_img"],
            "mos_raw": mos_raw,
            "mos": 1 + 4 * (mos_raw - mos_raw.min()) / (mos_raw.max() - mos_raw.min()),
            "split": "test",
            "width": 128,
            "height": 96,
        }
    )
    (ws / "data" / "validated").mkdir(parents=True, exist_ok=True)
    frame.to_parquet(ws / "data" / "validated" / "synthetic.parquet")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, synth_root: Path, warm_model_dir: Path) -> Path:
    tmp = tmp_path_factory.mktemp("eval-ws")
    overlay = tmp / "overlay.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "evaluate": {
                    "max_images": N_IMAGES,
                    "bootstrap": 50,
                    "max_new_tokens": 24,
                    "baselines": ["piqe"],
                }
            }
        )
    )
    root = workspace.init(tmp / "ws", [Path("configs/demo.yaml"), overlay], source=REPO)
    params = load_params(root / "params.yaml")
    shutil.copytree(warm_model_dir, root / params.model.base)
    shutil.copytree(synth_root / "kadid10k", root / "data" / "raw" / "synthetic" / "kadid10k")
    _validated(root, pd.read_csv(root / "data" / "raw" / "synthetic" / "kadid10k" / "dmos.csv"))

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText, AutoProcessor

    adapter = root / "models" / params.train.run_name / "adapter"
    base = AutoModelForImageTextToText.from_pretrained(root / params.model.base)
    get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])).save_pretrained(
        adapter
    )
    AutoProcessor.from_pretrained(root / params.model.base).save_pretrained(adapter)
    return root


def _evaluate(ws: Path, adapter: str | None = None, **evaluate: object):
    params = load_params(ws / "params.yaml")
    params = params.model_copy(update={"evaluate": params.evaluate.model_copy(update=evaluate)})
    return evaluate_workspace(ws, params, adapter=adapter, progress=False)


def test_stage_writes_metrics_predictions_reasoning_report_and_plots(ws: Path) -> None:
    metrics = _evaluate(ws)
    out = ws / "reports" / "eval"
    assert json.loads((out / "metrics.json").read_text()) == metrics
    m = metrics["datasets"]["synthetic"]
    assert m["n"] + m["n_errors"] <= N_IMAGES and m["n_errors"] == 0
    assert 0.0 <= m["parse_failure_rate"] <= 1.0
    for key in ("srcc", "krcc", "plcc"):
        assert m[key] is None or -1.0 <= m[key] <= 1.0
    for ci in (m["srcc_ci"], m["plcc_ci"]):  # None when the tiny model's scores are (nearly) constant
        assert ci is None or -1.0 <= ci["low"] <= ci["high"] <= 1.0
    assert metrics["mean"]["srcc"] == m["srcc"]
    piqe = metrics["baselines"]["piqe"]["datasets"]["synthetic"]
    assert piqe["n"] == N_IMAGES and -1.0 <= piqe["srcc"] <= 1.0
    preds = pd.read_csv(out / "predictions" / "synthetic.csv")
    assert len(preds) == N_IMAGES
    # the behavioural check: the synthetic set is named like KADID-10K, so its graded copies pair up; PIQE
    # scores every image, the model's pairs are those whose two images it scored (sampled answers)
    pairs = graded_pairs(preds["image"].tolist())
    scored = preds["mean"].notna().to_numpy()
    assert piqe["n_ordered_pairs"] == len(pairs) > 0 and 0.0 <= piqe["ordered_pairs"] <= 1.0
    assert m["n_ordered_pairs"] == sum(bool(scored[a] and scored[b]) for a, b in pairs)
    assert m["ordered_pairs"] is None if m["n_ordered_pairs"] == 0 else 0.0 <= m["ordered_pairs"] <= 1.0
    assert {"image", "mos", "score_1", "mean", "std", "parse_failures", "error"} <= set(preds.columns)
    assert preds["parse_failures"].sum() == pytest.approx(m["parse_failure_rate"] * N_IMAGES)
    lines = (out / "reasoning" / "synthetic.jsonl").read_text().splitlines()
    assert [json.loads(line)["image"] for line in lines] == preds["image"].tolist()

    page = (out / "report.md").read_text()
    plots = sorted((out / "plots").glob("*.png"))
    assert {p.name for p in plots} == {"scatter_synthetic.png", "correlations.png"}
    for plot in plots:
        assert f"plots/{plot.name}" in page
        with Image.open(plot) as img:
            assert img.width > 100
    assert "piqe (measured)" in page
    assert f"of {piqe['n_ordered_pairs']} pairs" in page
    if m["ordered_pairs"] is not None:
        assert f"of {m['n_ordered_pairs']} pairs" in page


def test_stage_refuses_a_missing_adapter_unless_asked(ws: Path, tmp_path: Path) -> None:
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["train"]["run_name"] = "never-trained"
    other = tmp_path / "ws"
    shutil.copytree(ws, other, ignore=shutil.ignore_patterns("reports", "adapter"))
    (other / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match="--adapter none"):
        _evaluate(other)
    (other / "data" / "validated" / "synthetic.parquet").unlink()
    with pytest.raises(DataError, match=r"synthetic\.parquet"):
        _evaluate(other, adapter="none")


def test_a_crash_before_the_report_keeps_the_previous_results_together(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "ws"
    shutil.copytree(ws, other)
    out = other / "reports" / "eval"
    if not (out / "metrics.json").is_file():
        _evaluate(other)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def crash(*args: object, **kwargs: object) -> str:
        raise RuntimeError("crash while rendering the report")

    monkeypatch.setattr(report, "render_markdown", crash)
    with pytest.raises(RuntimeError, match="crash while rendering"):
        _evaluate(other, max_images=4, baselines=[])  # scored 4 images, crashed before the report
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # no new predictions beside the old metrics
    assert [p.name for p in out.parent.iterdir()] == ["eval"]  # no staging folder left behind


@pytest.mark.slow
def test_dvc_repro_evaluate_and_metrics_show(ws: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    dvc = dvc_bin()
    subprocess.run(
        [dvc, "repro", "--single-item", "evaluate"], cwd=ws, env=env, check=True, capture_output=True
    )
    shown = subprocess.run(
        [dvc, "metrics", "show", "--json"], cwd=ws, env=env, check=True, capture_output=True, text=True
    )
    data = json.loads(shown.stdout)
    (files,) = (rev["data"] for rev in data.values())
    listed = files["reports/eval/metrics.json"]["data"]
    # what DVC shows is the stage's own file; every image was scored or counted (the scores are sampled)
    assert listed == json.loads((ws / "reports" / "eval" / "metrics.json").read_text())
    assert listed["datasets"]["synthetic"]["n_images"] == N_IMAGES
    assert "srcc" in listed["mean"]
