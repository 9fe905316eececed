"""`make learn`: does GRPO with the ranking reward teach the tiny model on the CPU? Held-out SRCC, with controls.

One workspace (params.yaml + configs/demo.yaml + configs/learn.yaml) makes the synthetic set and its
by-reference split with the real stages (``dvc repro validate``) and the format-warmed tiny model. Then the
real train stage (``python -m vqr1.stages.train``) runs once per (arm, seed), two at a time, each in its own
folder that shares the data and the base model:

- ``image``: the learning profile as it is: the model has only the image to go on (the method);
- ``shuffled``: the same run with the MOS permuted across the training images (``train.shuffle_mos``): the
  negative control, nothing to learn; it must not;
- ``hint``: each prompt also names its image's MOS band (``train.mos_hint``): the positive control, a known
  signal; it must be learned.

Every run logs the held-out SRCC (``vqr1.train.heldout``: the median of sampled answers on the ``test``
references, never trained on) before training and every ``train.heldout.every`` steps. Writes
build/learn/result.json (before/after per arm: mean, std and each seed), build/learn/curves.png and a table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from rich.console import Console

from vqr1 import workspace
from vqr1.config import deep_merge, load_params, read_yaml
from vqr1.demo import OVERLAYS
from vqr1.dvc_runner import run_dvc
from vqr1.fsutil import atomic_write_text
from vqr1.markdown import table
from vqr1.model import tiny
from vqr1.train.heldout import heldout_curve

REPO = Path(__file__).resolve().parents[1]
ARMS = {"image": {}, "shuffled": {"shuffle_mos": True}, "hint": {"mos_hint": True}}
# the suite's negative control: the hint arm with only the reward's labels shuffled (make control --negative)
ARMS["hint-shuffled"] = ARMS["hint"] | ARMS["shuffled"]


RESUME_HELP = "continue each run from its last checkpoint, e.g. to more steps (otherwise runs start afresh)"


def prepare(root: Path, shared_model: bool = True) -> Path:
    """The shared workspace: synthetic data validated by the real stages, and (``shared_model``) the warmed
    tiny model its runs share (make control's runs each warm their own)."""
    ws = workspace.init(root, OVERLAYS, REPO)
    run_dvc(ws, "repro", "validate", echo=True)
    if shared_model:
        tiny.build_warm(ws / "models" / "tiny")
    return ws


def run_folder(
    ws: Path, arm: str, seed: int, name: str | None = None, model: Path | None = None
) -> tuple[Path, bool]:
    """A run's own workspace, ``runs/<name>`` (default ``<arm>-<seed>``): its params (the shared ones + the arm
    + the seed), links to the data and to ``model`` (default: the shared warmed model). Also whether its params
    are the ones it already had."""
    folder = ws / "runs" / (name or f"{arm}-{seed}")
    (folder / "models").mkdir(parents=True, exist_ok=True)
    for link, target in (
        (folder / "data", ws / "data"),
        (folder / "models" / "tiny", model or ws / "models" / "tiny"),
    ):
        if not link.exists():
            link.symlink_to(target.resolve())
    raw = deep_merge(read_yaml(ws / "params.yaml"), {"seed": seed, "train": ARMS[arm]})
    text = yaml.safe_dump(raw, sort_keys=False)
    path = folder / "params.yaml"
    same = path.is_file() and path.read_text(encoding="utf-8") == text
    atomic_write_text(path, text)
    return folder, same


def threads_env(threads: int) -> dict[str, str]:
    """The environment of a run on ``threads`` cores."""
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def train(folder: Path, env: dict[str, str], steps: int, reuse: bool, resume: bool = False) -> float:
    """The train stage in ``folder`` with ``env``, from scratch unless ``reuse`` and it already finished, or
    ``resume``: the stage then continues from the run's last checkpoint (made with the same params, max_steps
    aside, so a finished run extends to more steps). Its seconds (the wall time of the stage, added to the
    earlier part's when resumed, or the trainer's own runtime for a run timed before)."""
    timing = folder / "train_seconds.txt"
    done = folder / "models" / "learn" / "checkpoints" / f"checkpoint-{steps}" / "trainer_state.json"
    if reuse and done.is_file():
        if timing.is_file():
            return float(timing.read_text())
        return float(re.findall(r"'train_runtime': '([0-9.]+)'", (folder / "train.log").read_text())[-1])
    earlier = float(timing.read_text()) if resume and timing.is_file() else 0.0
    if not resume:  # fresh: the stage would resume its checkpoints
        shutil.rmtree(folder / "models" / "learn", ignore_errors=True)
        shutil.rmtree(folder / "dvclive", ignore_errors=True)
    timing.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with (folder / "train.log").open("a" if resume else "w") as log:
        proc = subprocess.run(
            [sys.executable, "-m", "vqr1.stages.train"],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if proc.returncode:
        raise SystemExit(
            f"{folder}: the train stage failed (exit {proc.returncode}); see {folder / 'train.log'}"
        )
    seconds = earlier + time.perf_counter() - t0
    timing.write_text(f"{seconds:.1f}\n")
    return seconds


def curve(folder: Path) -> dict[int, float]:
    """Held-out SRCC by step of the run in ``folder``."""
    return heldout_curve(folder / "models" / "learn")


def summary(curves: dict[str, dict[int, dict[int, float]]]) -> dict[str, dict]:
    """Per arm: before and after (mean, std over seeds, each seed). A run whose answers collapsed to one
    value for every image has no SRCC (NaN); it counts as 0, no ranking, and is counted in ``collapsed``."""
    out = {}
    for arm, by_seed in curves.items():
        before = [_or_zero(c[min(c)]) for c in by_seed.values()]
        after = [_or_zero(c[max(c)]) for c in by_seed.values()]
        out[arm] = {
            "srcc_before": round(statistics.mean(before), 3),
            "srcc_after": round(statistics.mean(after), 3),
            "srcc_after_std": round(statistics.stdev(after), 3) if len(after) > 1 else 0.0,
            "per_seed_after": {str(s): round(_or_zero(c[max(c)]), 3) for s, c in by_seed.items()},
            "collapsed": sum(math.isnan(c[max(c)]) for c in by_seed.values()),
        }
    return out


def _or_zero(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def headline(arms: dict[str, dict]) -> dict[str, float]:
    """The figures asked of the method: the image arm before and after, the controls after."""
    out = {}
    if "image" in arms:
        out.update({k: arms["image"][k] for k in ("srcc_before", "srcc_after", "srcc_after_std")})
    if "shuffled" in arms:
        out["srcc_control"] = arms["shuffled"]["srcc_after"]
    if "hint" in arms:
        out["positive_control_srcc"] = arms["hint"]["srcc_after"]
    return out


def plot(curves: dict[str, dict[int, dict[int, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"image": "tab:blue", "shuffled": "tab:red", "hint": "tab:green"}
    fig, ax = plt.subplots(figsize=(6, 4))
    for arm, by_seed in curves.items():
        for i, c in enumerate(by_seed.values()):
            steps = sorted(c)
            ax.plot(steps, [c[s] for s in steps], color=colors[arm], alpha=0.8, marker="o",
                    label=arm if i == 0 else None)  # fmt: skip
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(xlabel="GRPO step", ylabel="held-out SRCC (test references)", title="tiny Qwen2.5-VL on the CPU")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "build" / "learn")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=["image", "shuffled", "hint"])
    parser.add_argument(
        "--parallel", type=int, default=2, help="runs at a time (each gets cores / parallel threads)"
    )
    parser.add_argument("--reuse", action="store_true", help="keep runs that already finished (same params)")
    parser.add_argument("--resume", action="store_true", help=RESUME_HELP)
    args = parser.parse_args()
    console = Console()
    t0 = time.perf_counter()
    ws = prepare(args.out)
    params = load_params(ws / "params.yaml")
    jobs = [(arm, seed) for arm in args.arms for seed in args.seeds]
    threads = max(1, (os.cpu_count() or 1) // args.parallel)
    steps = params.train.grpo["max_steps"]
    console.print(f"{len(jobs)} runs of {steps} steps, {args.parallel} at a time ...")
    prepared = {job: run_folder(ws, *job) for job in jobs}
    folders = {job: folder for job, (folder, _) in prepared.items()}
    with ThreadPoolExecutor(args.parallel) as pool:
        times = pool.map(
            lambda job: train(
                prepared[job][0], threads_env(threads), steps, args.reuse and prepared[job][1], args.resume
            ),
            jobs,
        )
        seconds = dict(zip(jobs, times, strict=True))
    curves = {arm: {seed: curve(folders[(arm, seed)]) for seed in args.seeds} for arm in args.arms}
    arms = summary(curves)
    result = {
        **headline(arms),
        "arms": arms,
        "curves": {  # null: the answers had collapsed to one value, no SRCC
            arm: {str(s): {k: None if math.isnan(v) else v for k, v in c.items()} for s, c in by_seed.items()}
            for arm, by_seed in curves.items()
        },
        "seeds": args.seeds,
        "steps": steps,
        "train_minutes": round(statistics.mean(seconds.values()) / 60, 1),
        "wall_minutes": None if args.reuse or args.resume else round((time.perf_counter() - t0) / 60, 1),
        "cores": os.cpu_count(),
        "method": "configs/demo.yaml + configs/learn.yaml; held-out SRCC = Spearman of the median of "
        f"{params.train.heldout.samples} sampled answers per image vs MOS on the test split "
        f"(references never trained on, at most {params.train.heldout.max_images} images)",
    }
    atomic_write_text(args.out / "result.json", json.dumps(result, indent=2) + "\n")
    plot(curves, args.out / "curves.png")
    rows = [
        [arm, s["srcc_before"], f"{s['srcc_after']} ± {s['srcc_after_std']}", s["per_seed_after"]]
        for arm, s in result["arms"].items()
    ]
    print(table(["arm", "SRCC before", "SRCC after (mean ± std)", "after, per seed"], rows))
    console.print(f"{args.out / 'result.json'}, {args.out / 'curves.png'} ({result['wall_minutes']} min)")


if __name__ == "__main__":
    main()
