"""The GPU check (scripts/gpu_check.py) in its CPU smoke mode: the install of the carried wheels on an image's own
Python, the imports, every part, the JSON and the projection's arithmetic. The GPU figures need a GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.model.node_image import image_python, pack_wheels, wheel_names

CHECK = REPO / "scripts" / "gpu_check.py"


def run_check(python: Path | str, args: list[str], env: dict[str, str] | None = None) -> dict:
    proc = subprocess.run(
        [str(python), str(CHECK), "--smoke", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    out = Path(args[args.index("--out") + 1])
    report = json.loads(out.read_text())
    assert report == json.loads(proc.stdout.strip().splitlines()[-1])
    return report


def check_grpo(report: dict) -> None:
    grpo = report["grpo"]
    hf = grpo["hf"]
    # smoke: ranking groups of 2, 4 images per update = 2 accumulation steps, one generation per update
    assert (grpo["images_per_group"], grpo["images_per_update"], hf["accumulation_steps"]) == (2, 4, 2)
    assert hf["seconds_per_update"] > 0 and 0 < hf["generation_share"] < 1
    assert (
        hf["mean_completion_tokens"] == grpo["completion_tokens"]
    )  # EOS suppressed: full-length completions
    assert hf["paper_updates"] == 470  # 10 epochs x 47 whole updates of 128 over 6,125 images
    projected = hf["seconds_per_update"] * (128 / 4) * 470 / 3600
    assert hf["projected_hours_paper_run_1_gpu"] == pytest.approx(projected, abs=0.01)
    summary = report["projected_hours_paper_run_1_gpu"]
    assert summary["hf"] == hf["projected_hours_paper_run_1_gpu"]
    assert summary["arithmetic"]["hf"].endswith(f"= {hf['projected_hours_paper_run_1_gpu']:.2f} h")


def test_system_python_installs_the_carried_wheels_on_an_image_without_them(tmp_path: Path) -> None:
    """An image's interpreter that lacks TRL, datasets, pydantic and the serving stack: the carried wheels go into
    the target folder and the GRPO part imports them from there."""
    python = image_python(tmp_path / "image")
    missing = subprocess.run([str(python), "-c", "import trl"], capture_output=True, cwd=tmp_path)
    assert missing.returncode != 0  # the image alone cannot train
    wheels = pack_wheels(wheel_names(), tmp_path / "wheels")
    # a wheel for another Python beside them (the folder may serve several): left out, not installed
    xxhash = next(w for w in wheels if w.name.startswith("xxhash-"))
    (tmp_path / "wheels" / "xxhash-4.1.0-cp399-cp399-manylinux_2_17_x86_64.whl").write_bytes(
        xxhash.read_bytes()
    )
    site, out = tmp_path / "site", tmp_path / "out" / "gpu-check.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the image sees only its own packages
    args = ["--system-python", "--wheels", str(tmp_path / "wheels"), "--site", str(site), "--out", str(out)]
    report = run_check(python, [*args, "--parts", "grpo", "--steps", "1"], env)
    assert report["install"]["wheels"] == [w.name for w in wheels] and len(wheels) == len(wheel_names())
    versions = report["versions"]
    assert versions["python"] == f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    for carried in ("trl", "datasets", "pydantic", "fastapi", "uvicorn", "openai"):
        assert Path(versions[carried]["location"]) == site.resolve(), carried
    image_site = next((tmp_path / "image" / "lib").glob("python3*/site-packages"))
    for image in ("torch", "transformers", "peft", "accelerate"):
        assert Path(versions[image]["location"]) == image_site, image
    assert versions["vllm"] is None and versions["gpu"] is None
    check_grpo(report)
    assert sorted(p.name for p in out.parent.iterdir()) == ["gpu-check.json", "gpu-check.log"]


@pytest.mark.slow
def test_gpu_check_smoke_mode_runs_every_part_on_the_cpu(tmp_path: Path) -> None:
    out = tmp_path / "gpu-check.json"
    report = run_check(sys.executable, ["--out", str(out)])
    check_grpo(report)
    assert "skipped" in report["vllm"]  # vLLM is not installed here, and needs a GPU
    scoring = report["scoring"]
    assert scoring["thinking"] is True and scoring["backend"] == "hf"
    assert [k for k in scoring if k.startswith("kadid_512x384.")] == [
        f"kadid_512x384.batch_{b}" for b in (1, 2, 4)
    ]
    assert all(scoring[f"kadid_512x384.batch_{b}"]["images_per_s"] > 0 for b in (1, 2, 4))
    serving = report["serving"]
    assert serving["server"] == "transformers serve --continuous-batching"
    for level in (1, 4):
        figures = serving[f"concurrency_{level}"]
        assert figures["requests"] == max(level, 2) and figures["images_per_s"] > 0
        assert figures["mean_completion_tokens"] > 0
        assert figures["mean_prompt_tokens"] > 16  # the question and the image's visual tokens
    ratio = report["vllm_serving_vs_hf_batch_1"]
    assert ratio["ratio"] is None and ratio["target"] == 20  # no vLLM figure on the CPU: no ratio, said so
    assert "scoring.kadid_512x384.batch_1.images_per_s" in ratio["arithmetic"]


def test_vllm_serving_part_fails_with_the_servers_reason_where_vllm_is_absent(tmp_path: Path) -> None:
    """The vLLM serving benchmark starts vLLM's own server; where vLLM does not import, it says so in its JSON
    and exits non-zero instead of hanging on a server that never comes up."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_serve_gpu.py"), "--smoke", "--engine", "vllm"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO / "scripts",
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 1 and result["server"].startswith("vLLM")
    assert "exited" in result["error"] and "vllm" in result["error"]
