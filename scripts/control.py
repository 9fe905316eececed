"""`make control`: how often the positive control learns, over seeds, thread counts and other CPUs' kernels.

The positive control is make learn's ``hint`` arm (configs/demo.yaml + configs/learn.yaml + ``train.mos_hint``),
the arm the suite's learning test runs. Its sampled trajectory follows the floating-point kernels of the CPU it
runs on, so a claim that it learns must hold on kernels other than this machine's. Each run here is a fresh
process whose environment picks them, as another x86-64 CPU would:

- ``ATEN_CPU_CAPABILITY``: PyTorch's vectorised kernels (``default``, ``avx2``, ``avx512``);
- ``MKL_ENABLE_INSTRUCTIONS``: the BLAS of PyTorch's wheel is MKL (``torch.__config__.show()``); on Intel CPUs
  its code path follows this switch (on AMD it keeps its own: the same bits under every value);
- ``MKL_CBWR``: MKL's conditional numerical reproducibility; ``COMPATIBLE`` takes the code path MKL keeps for
  every x86-64 CPU, and changes the bits of a matrix product on AMD CPUs too;
- ``ONEDNN_MAX_CPU_ISA``: oneDNN runs the vision tower's patch convolution (Conv3d), and follows it;
- ``OMP_NUM_THREADS``: the threads of a run (``--threads``; another order of floating-point sums).

A kernel set (``--kernels``) names a whole CPU (``native``, ``avx512``, ``avx2``, ``default``) or single switches
joined by ``+`` (``aten-avx2+onednn-sse41+mkl-compatible``); a switch it does not name stays unset.

Each run warms its own tiny model with its seed, in its own environment, since the warm-up is itself a
trajectory (the suite's learning test does the same with the params' seed, 42). A run learned when it passes
the suite's learning test's bar (``vqr1.train.heldout.LearnedBar``: held-out SRCC up by 0.3 to above 0.5, no
collapse, the format held, graded copies ordered). ``--negative`` runs the suite's negative control instead (the
same arm with the reward's labels shuffled), which holds when its held-out SRCC stays below
``vqr1.train.heldout.NOT_LEARNED_BELOW``. Writes build/control/result.json and table.md.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import learn  # scripts/learn.py: python puts this script's folder first on the path
from vqr1.config import load_params
from vqr1.fsutil import atomic_write_text
from vqr1.markdown import table
from vqr1.model import tiny
from vqr1.train.heldout import NOT_LEARNED_BELOW, LearnedBar, heldout_records, learned_no_ranking

# A kernel set is a whole CPU's ("native": this one's own; "avx512", "avx2", "default": every switch at that
# level) or switches joined by "+", each "<switch>-<level>": "aten-avx2" alone is PyTorch's kernels as
# `ATEN_CPU_CAPABILITY=avx2` exported for a whole CI run sets them; "aten-default+onednn-avx2+mkl-compatible"
# sets three.
SWITCHES: dict[str, tuple[str, dict[str, str]]] = {
    "aten": ("ATEN_CPU_CAPABILITY", {"avx512": "avx512", "avx2": "avx2", "default": "default"}),
    "onednn": ("ONEDNN_MAX_CPU_ISA", {"avx512": "AVX512_CORE", "avx2": "AVX2", "sse41": "SSE41"}),
    "mkl": ("MKL_CBWR", {"compatible": "COMPATIBLE"}),
}
WHOLE_CPU: dict[str, dict[str, str]] = {
    "native": {},
    "avx512": {
        "ATEN_CPU_CAPABILITY": "avx512",
        "MKL_ENABLE_INSTRUCTIONS": "AVX512",
        "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
    },
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "default": {
        "ATEN_CPU_CAPABILITY": "default",
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
    },
}
# every variable a kernel set may set: a run gets only its own set's
KERNEL_VARS = {var for var, _ in SWITCHES.values()} | {var for env in WHOLE_CPU.values() for var in env}


def kernel_vars(kernel: str) -> dict[str, str]:
    """The environment variables of a kernel set's name; ArgumentTypeError names what is not known."""
    if kernel in WHOLE_CPU:
        return WHOLE_CPU[kernel]
    chosen: dict[str, str] = {}
    for token in kernel.split("+"):
        switch, _, level = token.partition("-")
        if switch not in SWITCHES or level not in SWITCHES[switch][1]:
            known = ", ".join(f"{k}-{v}" for k, (_, levels) in SWITCHES.items() for v in levels)
            raise argparse.ArgumentTypeError(
                f"kernel set {kernel!r}: {token!r} is not one of {', '.join(WHOLE_CPU)} or {known} (joined by +)"
            )
        var, levels = SWITCHES[switch]
        chosen[var] = levels[level]
    return chosen


def kernel_set(kernel: str) -> str:
    """argparse type: a kernel set's name, checked."""
    kernel_vars(kernel)
    return kernel


def kernel_env(kernel: str, threads: int) -> dict[str, str]:
    """This process's environment with ``threads`` and only the kernel set's switches among KERNEL_VARS."""
    env = {k: v for k, v in learn.threads_env(threads).items() if k not in KERNEL_VARS}
    return env | kernel_vars(kernel)


def warm_model(ws: Path, kernel: str, threads: int, seed: int) -> Path:
    """The run's own format-warmed tiny model, warmed with the run's seed as a machine with these kernels
    and threads warms it (the suite's learning test warms its model the same way)."""
    out = ws / "models" / f"tiny-{kernel}-t{threads}-s{seed}"
    if not (out / "config.json").is_file():
        code = f"from vqr1.model import tiny; tiny.build({str(out)!r}, seed={seed}, warmup_steps={tiny.FORMAT_WARMUP_STEPS})"
        subprocess.run([sys.executable, "-c", code], env=kernel_env(kernel, threads), check=True)
    return out


def outcome(records: dict[int, dict[str, float]], bar: LearnedBar) -> dict:
    """The run judged by the suite's learning test's bar, on its first and last held-out records."""
    before, after = records[min(records)], records[max(records)]
    shortfalls = bar.shortfalls(before, after)
    return {
        "before": _figure(before["heldout_srcc"]),
        "after": _figure(after["heldout_srcc"]),
        "collapsed": math.isnan(after["heldout_srcc"]),
        "learned": not shortfalls,
        "shortfalls": shortfalls,
        "parsed": [_figure(before["heldout_parsed"]), _figure(after["heldout_parsed"])],
        "ordered": _figure(after.get("heldout_ordered", math.nan)),
        "curve": {str(k): _figure(v["heldout_srcc"]) for k, v in records.items()},
    }


def _figure(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=learn.REPO / "build" / "control")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 42], help="42: the suite's test")
    parser.add_argument(
        "--kernels",
        nargs="+",
        type=kernel_set,
        default=["native", "avx2", "default"],
        help=f"{', '.join(WHOLE_CPU)}, or switches joined by +: {', '.join(SWITCHES)} (e.g. aten-avx2+onednn-sse41)",
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time")
    parser.add_argument(
        "--negative",
        action="store_true",
        help="the suite's negative control instead (the reward's labels shuffled): it must stay below "
        f"{NOT_LEARNED_BELOW}",
    )
    parser.add_argument("--reuse", action="store_true", help="keep runs that already finished (same params)")
    parser.add_argument("--resume", action="store_true", help=learn.RESUME_HELP)
    args = parser.parse_args()
    t0 = time.perf_counter()
    ws = learn.prepare(args.out, shared_model=False)
    steps = load_params(ws / "params.yaml").train.grpo["max_steps"]
    jobs = [(seed, k, t) for seed in args.seeds for k in args.kernels for t in args.threads]
    arm = "hint-shuffled" if args.negative else "hint"
    control = "negative" if args.negative else "positive"
    print(
        f"{len(jobs)} runs of the {control} control, {steps} steps, {args.parallel} at a time ...", flush=True
    )

    def run(job: tuple[int, str, int]) -> dict:
        seed, kernel, threads = job
        name = f"{arm}-{seed}-{kernel}-t{threads}"
        model = warm_model(ws, kernel, threads, seed)
        folder, same = learn.run_folder(ws, arm, seed, name=name, model=model)
        seconds = learn.train(folder, kernel_env(kernel, threads), steps, args.reuse and same, args.resume)
        result = {"seed": seed, "kernels": kernel, "threads": threads, "seconds": round(seconds)}
        records = heldout_records(folder / "models" / "learn")
        result |= outcome(records, LearnedBar())
        if args.negative:  # as the suite's negative control judges it
            result["held"] = learned_no_ranking(records[max(records)])
        print(json.dumps(result), flush=True)
        return result

    with ThreadPoolExecutor(args.parallel) as pool:
        runs = list(pool.map(run, jobs))
    learned = sum(r["learned"] for r in runs)
    result = {
        "arm": arm,
        "learned": learned,
        **({"held": sum(r["held"] for r in runs)} if args.negative else {}),
        "runs": len(runs),
        "collapsed": sum(r["collapsed"] for r in runs),
        "criterion": f"the suite's learning test: {LearnedBar()}",
        "steps": steps,
        "cpu_capability": _capability(),
        "wall_minutes": round((time.perf_counter() - t0) / 60, 1),
        "tiny_warmup_steps": tiny.FORMAT_WARMUP_STEPS,
        "per_run": runs,
    }
    atomic_write_text(args.out / "result.json", json.dumps(result, indent=2) + "\n")
    rows = [
        [r["seed"], r["kernels"], r["threads"], r["before"], "collapsed" if r["collapsed"] else r["after"],
         r["ordered"], "yes" if r["learned"] else "**no**: " + "; ".join(r["shortfalls"])]
        for r in runs
    ]  # fmt: skip
    text = table(["seed", "kernels", "threads", "SRCC before", "after", "ordered", "learned"], rows)
    atomic_write_text(args.out / "table.md", text + "\n")
    print(text)
    counted = (
        f"stayed below {NOT_LEARNED_BELOW} in {result['held']}" if args.negative else f"learned in {learned}"
    )
    print(f"{arm}: {counted} of {len(runs)} runs ({result['wall_minutes']} min); {args.out / 'result.json'}")


def _capability() -> str:
    import torch

    return torch.backends.cpu.get_cpu_capability()


if __name__ == "__main__":
    main()
