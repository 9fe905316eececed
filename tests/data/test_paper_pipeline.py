"""`dvc repro` of the paper profile end to end on the CPU: the nine datasets in their real layouts and the
reference repository's label files, all served by a local HTTP server, through download -> normalize ->
validate -> train (tiny model, two steps) -> evaluate, with the paper's KADID-10K split lists.

The fixtures and their public sources: tests/data/real_layouts.py.
"""

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

from tests.conftest import REPO
from tests.data import real_layouts
from tests.data.http_server import serve
from vqr1 import workspace
from vqr1.dvc_runner import dvc_bin

EVAL_SETS = ["bid", "live_challenge", "koniq10k", "spaq", "deblurring", "sriqa_bench", "dehazing", "agiqa3k"]


def _sources(base: str, layouts: real_layouts.Layouts) -> dict[str, dict]:
    """Where each set comes from: one URL for single-archive sets, one per part for sets in pieces."""
    sources: dict[str, dict] = {}
    for name, fixture in layouts.fixtures.items():
        urls = {
            part: f"{base}/{path.relative_to(layouts.root).as_posix()}"
            for part, path in fixture.parts.items()
        }
        if list(urls) == ["archive"]:
            sources[name] = {"url": urls["archive"]}  # a mirror holding the whole set
        else:
            sources[name] = {"parts": {part: {"url": url} for part, url in urls.items()}}
    return sources


def _overlay(base: str, layouts: real_layouts.Layouts) -> dict:
    return {
        "data": {
            "datasets": list(real_layouts.BUILDERS),
            "train_datasets": ["kadid10k"],
            "eval_datasets": EVAL_SETS,
            "labels": "reference",
            "reference_labels": {"url": f"{base}/reference/datasets"},
            "split": {"method": "paper_lists"},
            "sources": _sources(base, layouts),
            "gate": {"expected_counts": {n: f.count for n, f in layouts.fixtures.items()}},
        },
        "train": {"grpo": {"max_steps": 2, "save_steps": 2}},
        "evaluate": {"bootstrap": 20, "max_new_tokens": 24},
    }


@pytest.mark.slow
def test_dvc_repro_paper_profile_on_real_layouts(tmp_path: Path, warm_model_dir: Path) -> None:
    layouts = real_layouts.build_all(tmp_path / "served")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    with serve(layouts.root) as (base, log):
        overlay = tmp_path / "overlay.yaml"
        overlay.write_text(yaml.safe_dump(_overlay(base, layouts)))
        ws = workspace.init(tmp_path / "ws", [REPO / "configs/demo.yaml", overlay], source=REPO)
        shutil.copytree(warm_model_dir, ws / "models" / "tiny")
        proc = subprocess.run(
            [dvc_bin(), "repro"], cwd=ws, env=env, capture_output=True, text=True, timeout=1200
        )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for stage in [*(f"download@{n}" for n in layouts.fixtures), "normalize", "validate", "train", "evaluate"]:
        assert f"Running stage '{stage}'" in proc.stdout, stage
    served = {path for path, _ in log.requests}
    assert "/reference/datasets/KADID-10K/KADID-10K_train_set.txt" in served
    assert "/agiqa3k/agiqa/data.csv" in served and "/koniq10k/koniq10k_scores_and_distributions.zip" in served

    kadid = pd.read_parquet(ws / "data/validated/kadid10k.parquet")
    assert kadid.groupby("ref_id")["split"].agg(set).to_dict() == {
        "I01": {"train"},
        "I02": {"train"},
        "I03": {"train"},
        "I04": {"val"},
        "I05": {"test"},
    }, "the paper's lists decide the split"
    gate = json.loads((ws / "reports/gate/summary.json").read_text())
    assert gate["success"] and {n: d["rows"] for n, d in gate["datasets"].items()} == {
        n: f.count for n, f in layouts.fixtures.items()
    }

    metrics = json.loads((ws / "reports/eval/metrics.json").read_text())
    assert list(metrics["datasets"]) == EVAL_SETS
    sriqa = metrics["datasets"]["sriqa_bench"]
    assert sriqa["n_images"] == 22 and "srcc_group_mean" in sriqa and sriqa["n_groups"] <= 2
    assert all("srcc_group_mean" not in m for n, m in metrics["datasets"].items() if n != "sriqa_bench")
    assert all(m["visual_tokens_mean"] is not None for m in metrics["datasets"].values())
    page = (ws / "reports/eval/report.md").read_text()
    assert "| ours (per-group mean) |" in page and "| ours (4PL) |" in page
    assert (ws / "models/demo/adapter/adapter_config.json").is_file()
