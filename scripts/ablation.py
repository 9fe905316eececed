"""`make ablation`: the ranking reward and K (samples per image) as DVC experiments, on the CPU.

A CPU-scale analogue of the paper's reward and K ablations (docs/learning.md). One git-backed workspace
(params.yaml + configs/demo.yaml + configs/learn.yaml) makes the synthetic set with the real stages and the
format-warmed tiny model (``dvc add``-ed, so every experiment checks out the same one), and is committed.
Each variant is then queued with ``dvc exp run --queue -S ... models/tiny.dvc train`` and run by ``dvc queue start``, two at
a time, each in DVC's own copy of the workspace; ``dvc exp show`` collects the figures. Every variant trains
with the MOS band in its prompt (``train.mos_hint``): the tiny model's pixels carry too little quality signal
for any reward to teach it (docs/learning.md), while the hint is learned, so the rewards can differ.

The figure is the held-out SRCC logged after the last step (``vqr1.train.heldout``: median of sampled answers
on the test references) and the share of held-out graded pairs ordered. Writes build/ablation/result.json,
table.md and ablation.png; ``dvc exp show`` and ``dvc plots diff`` in build/ablation show the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from vqr1 import workspace
from vqr1.config import deep_merge, read_yaml
from vqr1.demo import OVERLAYS
from vqr1.dvc_runner import dvc_json, run_dvc
from vqr1.fsutil import atomic_write_text
from vqr1.markdown import table
from vqr1.model import tiny

REPO = Path(__file__).resolve().parents[1]
BASE_MODEL = Path("models/tiny")
# name -> dvc exp run -S overrides; fidelity at the profile's K is the method (RL2R)
VARIANTS: dict[str, list[str]] = {
    "fidelity": ["train.reward_funcs=[fidelity,format]"],
    "threshold": ["train.reward_funcs=[threshold,format]"],
    "binary": ["train.reward_funcs=[binary,format]"],
    "prob_average": ["train.reward_funcs=[prob_average,format]"],
    "fixed_variance": ["train.reward_funcs=[fixed_variance,format]"],
    "fidelity-k2": ["train.reward_funcs=[fidelity,format]", "train.grpo.num_generations=2"],
    "fidelity-k4": ["train.reward_funcs=[fidelity,format]", "train.grpo.num_generations=4"],
    "fidelity-k6": ["train.reward_funcs=[fidelity,format]", "train.grpo.num_generations=6"],
}
# average SRCC over the paper's test sets (its reward ablation table), for the table beside ours
PAPER_SRCC = {
    "threshold": 0.766,
    "binary": 0.772,
    "prob_average": 0.774,
    "fixed_variance": 0.770,
    "fidelity": 0.777,
}
METRICS = "dvclive/metrics.json"
# Every variant gets the same fixed budget, the one docs/learning.md's table was measured with: 60 steps at the
# profile's constant 2e-3 (the profile's own 100 steps with their decay are tuned for the method's reward alone)
BUDGET = {"max_steps": 60, "save_steps": 60, "lr_scheduler_type": "constant"}


def prepare(root: Path) -> Path:
    """The committed workspace the experiments branch from: data through the gate, the warmed base model."""
    ws = workspace.init(root, OVERLAYS, REPO, experiments=True)
    raw = deep_merge(read_yaml(ws / "params.yaml"), {"train": {"mos_hint": True, "grpo": BUDGET}})
    raw["train"]["grpo"].pop("lr_scheduler_kwargs", None)  # the profile's decay: a constant rate refuses it
    atomic_write_text(ws / "params.yaml", yaml.safe_dump(raw, sort_keys=False))
    run_dvc(ws, "repro", "validate", echo=True)
    tiny.build_warm(ws / BASE_MODEL)
    run_dvc(ws, "add", "-q", str(BASE_MODEL))
    workspace.commit(ws, "data through the gate and the warmed base model")
    return ws


def run_queue(ws: Path, names: list[str], jobs: int, console: Console) -> None:
    """Queue every variant (after dropping the experiments of an earlier run), start ``jobs`` queue
    workers, and wait until the queue is drained."""
    run_dvc(ws, "exp", "remove", "-A")
    run_dvc(ws, "queue", "remove", "--all")
    for name in names:
        overrides = [arg for o in VARIANTS[name] for arg in ("-S", o)]
        # the base model's .dvc file is a target too: DVC's copy checks out only what the targets name
        run_dvc(ws, "exp", "run", "--queue", "-n", name, *overrides, f"{BASE_MODEL}.dvc", "train")
    run_dvc(ws, "queue", "start", "-j", str(jobs))
    while True:
        status = run_dvc(ws, "queue", "status")
        pending = [line for line in status.splitlines() if " Queued" in line or " Running" in line]
        if not pending:
            return
        console.print(f"{len(pending)} experiments queued or running ...")
        time.sleep(30)


def results(ws: Path) -> dict[str, dict[str, Any]]:
    """Per experiment (by name): its state, reward, K and held-out figures from ``dvc exp show --json``."""
    shown = dvc_json(ws, "exp", "show")
    out: dict[str, dict[str, Any]] = {}
    for commit in shown:
        for exp in commit.get("experiments") or []:
            data = exp["revs"][0].get("data") or {}
            train = data.get("params", {}).get("params.yaml", {}).get("data", {}).get("train", {})
            metrics = data.get("metrics", {}).get(METRICS, {}).get("data", {})
            out[exp["name"]] = {
                "state": (exp.get("executor") or {}).get("state", "success"),
                "reward": train.get("reward_funcs", [None])[0],
                "k": train.get("grpo", {}).get("num_generations"),
                "heldout_srcc": metrics.get("heldout_srcc"),
                "heldout_ordered": metrics.get("heldout_ordered"),
            }
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def plot(rows: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(names, [rows[n]["heldout_srcc"] or 0.0 for n in names], color="tab:green")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(ylabel="held-out SRCC after training", title="reward and K ablation, tiny Qwen2.5-VL on the CPU")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "build" / "ablation")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument(
        "--jobs", type=int, default=2, help="experiments at a time (each gets cores / jobs threads)"
    )
    args = parser.parse_args()
    console = Console()
    t0 = time.perf_counter()
    ws = prepare(args.out)
    threads = str(max(1, (os.cpu_count() or 1) // args.jobs))
    os.environ.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)  # inherited by the queue workers
    run_queue(ws, args.variants, args.jobs, console)
    found = results(ws)
    rows = {name: found[name] for name in args.variants if name in found}
    result = {
        "variants": rows,
        "missing": [name for name in args.variants if name not in found],
        "wall_minutes": round((time.perf_counter() - t0) / 60, 1),
        "cores": os.cpu_count(),
        "method": "dvc exp run --queue per variant over configs/demo.yaml + configs/learn.yaml with "
        "train.mos_hint; held-out SRCC and graded pairs ordered after the last step (dvclive/metrics.json)",
    }
    atomic_write_text(args.out / "result.json", json.dumps(result, indent=2) + "\n")
    lines = table(
        ["variant", "reward", "K", "state", "held-out SRCC", "graded pairs ordered", "paper avg SRCC"],
        [
            [
                n,
                r["reward"],
                r["k"],
                r["state"],
                _round(r["heldout_srcc"]),
                _round(r["heldout_ordered"]),
                PAPER_SRCC.get(n),
            ]
            for n, r in rows.items()
        ],
    )
    atomic_write_text(args.out / "table.md", lines + "\n")
    plot(rows, args.out / "ablation.png")
    print(lines)
    console.print(f"{args.out / 'result.json'}, table.md, ablation.png ({result['wall_minutes']} min)")


if __name__ == "__main__":
    main()
