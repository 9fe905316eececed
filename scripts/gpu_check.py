"""The one-shot GPU check of the paper recipe (``make gpu-check``, ``make gpu-check-node``), as one JSON file.

Parts, each in its own process (its own CUDA context) under its share of ``--budget-s``; the JSON is rewritten
after each part, so a part that fails or runs out of time leaves the others' figures:

a. ``grpo``: ``scripts/bench_grpo_gpu.py --backends hf``: GRPO updates of the paper recipe with HF
   ``generate`` on random 7B-shaped Qwen2.5-VL weights, and the projected hours of the 470-update run;
b. ``scoring``: ``scripts/bench_eval_gpu.py --backend hf``: HF batched scoring, thinking prompt, 256 new
   tokens, at batch 1, 16 and 64;
c. ``serving``: ``scripts/bench_serve_gpu.py``: ``transformers serve --continuous-batching`` on the same
   weights at concurrency 1 and 64;
d. ``vllm``: the GRPO and scoring benchmarks with vLLM, when vLLM imports; otherwise skipped with a note.

``--system-python`` runs on the interpreter that starts it (a GPU node's own PyTorch image, offline): it
installs the carried wheels (``scripts/gpu_wheels.sh``) into a target folder with ``pip install --no-index
--no-deps --target`` and runs every part with that folder, then ``src/``, first on the path. Without it the
parts inherit this interpreter's environment (``make gpu-check``: ``.venv-gpu``). Either way the JSON records
the versions the parts imported, and from where. ``--smoke`` runs every part in its CPU smoke mode (tiny
model and shapes; what the test suite runs). Nothing is downloaded: the weights are random, of the 7B shape.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
sys.path.insert(0, str(REPO / "src"))  # the project's code runs from the checkout, installed or not

from vqr1.fsutil import atomic_write_text  # noqa: E402

# Share of the budget each part may use, of what is left when it starts (a part that ends early leaves
# its time to the later ones). Estimated on one H200 (arithmetic, not measured): GRPO about 2.5 minutes (imports,
# the 7B build, 2 updates of 32 images), scoring 2.5 (writing and loading the 16 GB weights, batch 1/16/64),
# serving 1.5; GRPO gets the most room, since its figure is the one the hours estimate needs.
SHARES = {"grpo": 0.45, "scoring": 0.30, "serving": 0.25, "vllm": 0.35}
# Distribution -> module whose version and location the JSON records.
RECORDED = {
    "torch": "torch",
    "torchvision": "torchvision",
    "transformers": "transformers",
    "trl": "trl",
    "peft": "peft",
    "accelerate": "accelerate",
    "datasets": "datasets",
    "huggingface_hub": "huggingface_hub",
    "pydantic": "pydantic",
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "openai": "openai",
    "vllm": "vllm",
}
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def versions() -> dict[str, Any]:
    """What this interpreter's path holds: each recorded distribution's version and the folder its package is
    imported from (None when absent), found without importing it (the first on ``sys.path``, as an import
    finds it); and torch's CUDA build and the GPU."""
    found: dict[str, Any] = {"python": sys.version.split()[0], "executable": sys.executable}
    for dist, module in RECORDED.items():
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            found[dist] = None
            continue
        location = Path(spec.origin).parent.parent
        here = importlib.metadata.distributions(name=dist, path=[str(location)])
        version = next((d.version for d in here), "?")
        found[dist] = {"version": version, "location": str(location)}
    import torch

    found["cuda"] = torch.version.cuda
    found["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return found


def install_wheels(wheels: Path, site: Path) -> dict[str, Any]:
    """The carried wheels that fit this interpreter into ``site`` (replaced): no index, no dependency
    resolution, nothing downloaded. The folder may hold wheels for several Pythons."""
    from packaging.tags import sys_tags
    from packaging.utils import parse_wheel_filename

    supported = set(sys_tags())
    projects: dict[str, list[Path]] = {}
    for wheel in sorted(wheels.glob("*.whl")):
        projects.setdefault(parse_wheel_filename(wheel.name)[0], []).append(wheel)
    if not projects:
        raise SystemExit(
            f"gpu_check: no wheels in {wheels}; run scripts/gpu_wheels.sh where PyPI is reachable"
        )
    files, unfit = [], []
    for name, candidates in projects.items():
        fitting = [w for w in candidates if parse_wheel_filename(w.name)[3] & supported]
        files += fitting[:1]
        unfit += [] if fitting else [name]
    if unfit:
        raise SystemExit(
            f"gpu_check: no wheel in {wheels} fits Python {sys.version.split()[0]} here for {', '.join(unfit)}; "
            "run scripts/gpu_wheels.sh with GPU_PYTHON set to this version"
        )
    t0 = time.perf_counter()
    shutil.rmtree(site, ignore_errors=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--upgrade"]
    command.append("--no-compile")  # bytecode is written on first import, of the modules used only
    proc = subprocess.run([*command, "--target", str(site), *map(str, files)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"gpu_check: pip install --target {site} failed: {proc.stderr[-2000:]}")
    return {
        "wheels": [f.name for f in files],
        "megabytes": round(sum(f.stat().st_size for f in files) / 2**20, 2),
        "site": str(site),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def part_env(site: Path | None) -> dict[str, str]:
    """The parts' environment: offline, and ``site`` (the installed wheels) then ``src/`` first on the path."""
    env = {**os.environ, **OFFLINE, "TOKENIZERS_PARALLELISM": "false"}
    first = [str(site)] if site else []
    env["PYTHONPATH"] = os.pathsep.join([*first, str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    return env


def run_part(command: list[str], timeout_s: float, env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run one benchmark script; its last stdout line is its JSON. Its output goes to ``log``. Past its time,
    its whole process group is killed: a server it started goes too, and frees the GPU for the next part."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        code = None
    with log.open("a") as f:
        f.write(f"$ {' '.join(command)}\n{stdout[-100_000:]}\n{stderr[-100_000:]}\n")
    if code is None:
        return {"error": f"ran past its {timeout_s:.0f} s share of the budget", "wall_s": round(timeout_s, 1)}
    try:
        result = json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        result = {"error": f"exit {code}, no JSON: {stderr[-1500:]}"}
    if code != 0 and "error" not in result:
        result["exit_code"] = code
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    return result


def part_commands(part: str, smoke: bool, base: Path, args: argparse.Namespace) -> list[list[str]]:
    """The benchmark commands of one part (vLLM's part runs two)."""
    py = sys.executable
    flag = ["--smoke"] if smoke else []
    grpo = [
        py,
        str(SCRIPTS / "bench_grpo_gpu.py"),
        *flag,
        "--steps",
        str(args.steps),
        "--base-dir",
        str(base),
    ]
    if args.images_per_update:
        grpo += ["--images-per-update", str(args.images_per_update)]
    scoring = [py, str(SCRIPTS / "bench_eval_gpu.py"), *flag, "--base", str(base)]
    if part == "grpo":
        return [[*grpo, "--backends", "hf"]]
    if part == "scoring":
        batches = "1,2,4" if smoke else "1,16,64"
        return [[*scoring, "--backend", "hf", "--batches", batches, "--sizes", "kadid_512x384"]]
    if part == "serving":
        return [[py, str(SCRIPTS / "bench_serve_gpu.py"), *flag, "--base", str(base)]]
    serving = [py, str(SCRIPTS / "bench_serve_gpu.py"), "--engine", "vllm", "--base", str(base)]
    return [[*grpo, "--backends", "vllm"], [*scoring, "--backend", "vllm"], serving]


def serving_ratio(report: dict[str, Any]) -> dict[str, Any]:
    """vLLM's server at concurrency 64 against HF generation one image at a time, the way downstream projects
    score today (target: at least 20 times); None where either figure is missing."""
    served = report.get("vllm", {}).get("serving", {}).get("concurrency_64", {}).get("images_per_s")
    one = report.get("scoring", {}).get("kadid_512x384.batch_1", {}).get("images_per_s")
    return {
        "ratio": round(served / one, 1) if served and one else None,
        "target": 20,
        "arithmetic": f"vllm.serving.concurrency_64.images_per_s {served} / scoring.kadid_512x384.batch_1.images_per_s {one}",
    }


def problems(result: dict[str, Any]) -> bool:
    nested = [v for v in result.values() if isinstance(v, dict)]
    return "error" in result or "exit_code" in result or any(problems(v) for v in nested)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="every part in its CPU smoke mode")
    parser.add_argument("--system-python", action="store_true", help="this interpreter + the carried wheels")
    parser.add_argument("--wheels", type=Path, default=REPO / "build" / "gpu-wheels")
    parser.add_argument("--site", type=Path, default=REPO / "build" / "gpu-site", help="where wheels install")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "gpu-check.json")
    parser.add_argument("--budget-s", type=float, default=480, help="wall-clock budget of all parts")
    parser.add_argument("--parts", default="grpo,scoring,serving,vllm", help="comma list of the parts to run")
    parser.add_argument(
        "--images-per-update",
        type=int,
        help="images per measured GRPO update (default 32: 4 ranking groups; the projection scales to 128)",
    )
    parser.add_argument("--steps", type=int, default=2, help="GRPO updates (the first is warm-up)")
    parser.add_argument("--versions", action="store_true", help=argparse.SUPPRESS)  # the parts' interpreter
    args = parser.parse_args()
    if args.versions:
        print(json.dumps(versions()))
        return 0
    started = time.perf_counter()
    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "mode": "smoke (CPU)" if args.smoke else "GPU",
        "python": "system (carried wheels)" if args.system_python else "this environment",
        "budget_s": args.budget_s,
    }
    site = None
    if args.system_python:
        site = args.site.resolve()
        report["install"] = install_wheels(args.wheels.resolve(), site)
    env = part_env(site)
    logs = out.with_suffix(".log")
    logs.unlink(missing_ok=True)
    report["versions"] = run_part([sys.executable, __file__, "--versions"], 120, env, logs)
    atomic_write_text(out, json.dumps(report, indent=2))
    if not args.smoke and not report["versions"].get("gpu"):
        print(f"gpu_check: no CUDA GPU visible to {sys.executable} (--smoke runs on the CPU); see {out}")
        return 2
    parts = args.parts.split(",")
    vllm_found = report["versions"].get("vllm")
    if "vllm" in parts and not (isinstance(vllm_found, dict) and "version" in vllm_found):
        why = vllm_found["error"] if isinstance(vllm_found, dict) else "not installed (its wheels are GBs)"
        report["vllm"] = {"skipped": f"vllm does not import here: {why}"}
        parts.remove("vllm")
    if "vllm" in parts and args.smoke:
        report["vllm"] = {"skipped": "smoke mode (vLLM needs a GPU)"}
        parts.remove("vllm")
    (REPO / "build").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gpu-check-", dir=REPO / "build") as tmp:
        base = Path(tmp) / "base"  # the random weights, written once (about 16 GB at the 7B shape)
        for i, part in enumerate(parts):
            left = args.budget_s - (time.perf_counter() - started)
            share = left * SHARES[part] / sum(SHARES[p] for p in parts[i:])
            commands = part_commands(part, args.smoke, base, args)
            results = []
            for j, command in enumerate(commands):
                left = args.budget_s - (time.perf_counter() - started)
                timeout = max(min(share / (len(commands) - j), left), 30)
                print(f"gpu_check: {part} ({timeout:.0f} s at most) ...", file=sys.stderr, flush=True)
                results.append(run_part(command, timeout, env, logs))
                share -= results[-1]["wall_s"]
            report[part] = (
                results[0]
                if len(results) == 1
                else dict(zip(("grpo", "scoring", "serving"), results, strict=True))
            )
            atomic_write_text(out, json.dumps(report, indent=2))
    grpo = report.get("grpo", {}).get("hf", {})
    vllm = report.get("vllm", {}).get("grpo", {}).get("vllm", {})
    report["projected_hours_paper_run_1_gpu"] = {
        "hf": grpo.get("projected_hours_paper_run_1_gpu"),
        "vllm": vllm.get("projected_hours_paper_run_1_gpu"),
        "arithmetic": {"hf": grpo.get("projection"), "vllm": vllm.get("projection")},
    }
    report["vllm_serving_vs_hf_batch_1"] = serving_ratio(report)
    report["wall_s"] = round(time.perf_counter() - started, 1)
    atomic_write_text(out, json.dumps(report, indent=2))
    print(json.dumps(report))
    return 1 if "error" in report["versions"] or any(problems(report[p]) for p in parts) else 0


if __name__ == "__main__":
    raise SystemExit(main())
