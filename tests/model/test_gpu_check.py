"""`make gpu-check` in its CPU smoke mode: both parts run (GRPO updates, evaluation throughput), the JSON is
written, and the projection is the documented arithmetic. The GPU figures themselves need a GPU."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_gpu_check_smoke_mode_runs_on_the_cpu(tmp_path: Path) -> None:
    out = tmp_path / "gpu-check.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gpu_check.py"), "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report == json.loads(proc.stdout.strip().splitlines()[-1])
    grpo = report["grpo"]
    hf = grpo["hf"]
    # smoke: ranking groups of 2, 4 images per update = 2 accumulation steps, one generation per update
    assert (grpo["images_per_group"], grpo["images_per_update"], hf["accumulation_steps"]) == (2, 4, 2)
    assert hf["seconds_per_update"] > 0 and 0 < hf["generation_share"] < 1
    assert (
        hf["mean_completion_tokens"] == grpo["completion_tokens"]
    )  # EOS suppressed: full-length completions
    assert hf["generated_tokens_per_s"] > 0 and "method" in grpo
    assert hf["paper_updates"] == 470  # 10 epochs x 47 whole updates of 128 over 6,125 images
    projected = hf["seconds_per_update"] * (128 / 4) * 470 / 3600
    assert hf["projected_hours_paper_run_1_gpu"] == pytest.approx(projected, abs=0.01)
    assert report["projected_hours_paper_run_1_gpu"]["hf"] == hf["projected_hours_paper_run_1_gpu"]
    assert "skipped" in grpo["vllm"]  # vLLM needs a GPU
    evaluation = report["evaluation"]
    sizes = [key for key in evaluation if key.startswith(("kadid_512x384.", "koniq_1024x768."))]
    assert len(sizes) >= 2 and all(evaluation[key]["images_per_s"] > 0 for key in sizes)
