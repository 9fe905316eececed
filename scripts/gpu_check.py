"""`make gpu-check`: the one-shot GPU check of the paper recipe, as one JSON file.

1. ``scripts/bench_grpo_gpu.py``: optimizer updates of the faithful recipe (ranking groups of 8 images,
   gradient accumulation up to ``--images-per-update``) with HF ``generate`` and with vLLM colocate, and
   the projected hours of the paper run (128 images per update) on one GPU;
2. ``scripts/bench_eval_gpu.py``: vLLM evaluation throughput on the same random 7B-shaped weights.

Each part runs in its own process (its own CUDA context: vLLM holds GPU memory until its process ends)
under a share of ``--budget-s``; the JSON is rewritten after each part, so a part that fails or runs out
of time leaves the other's figures. Nothing is downloaded: the weights are random, of the 7B shape.
``--smoke`` runs both parts in their CPU smoke mode (what the test suite runs).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from vqr1.fsutil import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"


def run_part(command: list[str], timeout_s: float) -> dict[str, Any]:
    """Run one benchmark script; its last stdout line is its JSON, anything else is reported as an error."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"error": f"ran past its {timeout_s:.0f} s share of the budget"}
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        result = {"error": f"exit {proc.returncode}, no JSON: {proc.stderr[-1500:]}"}
    if proc.returncode != 0 and "error" not in result:
        result["exit_code"] = proc.returncode
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="CPU smoke mode of both parts")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "gpu-check.json")
    parser.add_argument("--budget-s", type=float, default=480, help="wall-clock budget of both parts")
    parser.add_argument(
        "--images-per-update",
        type=int,
        help="images per measured update (default 32: 4 ranking groups; the projection scales to 128)",
    )
    parser.add_argument("--steps", type=int, default=2, help="updates per backend (the first is warm-up)")
    args = parser.parse_args()
    smoke = ["--smoke"] if args.smoke else []
    started = time.perf_counter()
    report: dict[str, Any] = {"mode": "smoke (CPU)" if args.smoke else "GPU", "budget_s": args.budget_s}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vqr1-gpu-check-") as tmp:
        base = Path(tmp) / "base"
        grpo = [sys.executable, str(SCRIPTS / "bench_grpo_gpu.py"), *smoke, "--steps", str(args.steps)]
        grpo += ["--base-dir", str(base)]
        if args.images_per_update:
            grpo += ["--images-per-update", str(args.images_per_update)]
        report["grpo"] = run_part(grpo, timeout_s=args.budget_s * 0.7)
        atomic_write_text(args.out, json.dumps(report, indent=2))
        evaluation = [sys.executable, str(SCRIPTS / "bench_eval_gpu.py"), *smoke]
        if (base / "config.json").is_file():
            evaluation += ["--base", str(base)]  # reuse the saved 7B-shaped weights
        remaining = args.budget_s - (time.perf_counter() - started)
        report["evaluation"] = run_part(evaluation, timeout_s=max(remaining, 30))
    report["wall_s"] = round(time.perf_counter() - started, 1)
    report["projected_hours_paper_run_1_gpu"] = {
        backend: report["grpo"].get(backend, {}).get("projected_hours_paper_run_1_gpu")
        for backend in ("hf", "vllm")
    }
    atomic_write_text(args.out, json.dumps(report, indent=2))
    print(json.dumps(report))
    failed = [
        part for part in ("grpo", "evaluation") if "error" in report[part] or "exit_code" in report[part]
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
