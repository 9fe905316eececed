"""`make bench`: run every benchmark script, print one table, write docs/benchmarks.md and .json.

Each benchmark is its own script that prints a JSON object as its last line of stdout (figures plus a
``method`` string saying how they were measured). This runner only gathers, so each script stays
runnable on its own. Ratios are measured side by side inside one script run (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from flatten_dict import flatten
from rich.console import Console
from rich.table import Table

from vqr1 import markdown

REPO = Path(__file__).resolve().parents[1]

GATE = "data gate, KADID-scale synthetic set"
GATE_FULL = "data gate, KADID-scale, every pixel decoded"
REWARD = "ranking reward vs per-pair loop"
SCORE = "scoring throughput by batch size (tiny model)"
SERVE = "scoring through `vqr1 serve` by concurrency (tiny model)"
PIPELINE = "pipeline overhead (DVC, Prefect)"
GRPO = "GRPO update, smoke shapes on CPU"
STARTUP = "entry point start: importing the training stack"
SUITE = "full test suite (last `make test`)"

# (title, script, extra args): quick-enough settings for a 2-core machine, under ~15 minutes in all.
BENCHES: list[tuple[str, str, list[str]]] = [
    (GATE, "bench_gate.py", []),
    (GATE_FULL, "bench_gate.py", ["--full-decode"]),
    (REWARD, "bench_reward.py", []),
    (SCORE, "bench_score.py", []),
    (SERVE, "bench_serve.py", []),
    (PIPELINE, "bench_pipeline.py", []),
    (GRPO, "bench_grpo_gpu.py", ["--smoke"]),
    (STARTUP, "bench_startup.py", []),
]

# The figures a user asks for first: (benchmark, flattened key, label, target text, target met?).
HEADLINES: list[tuple[str, str, str, str, Callable[[float], bool] | None]] = [
    (GATE, "total_s", "data gate, 10,125 images (PNG CRC check), s", "< 60 s", lambda v: v < 60),
    (GATE, "images_per_s", "  images/s", "", None),
    (GATE_FULL, "total_s", "data gate, 10,125 images (every pixel decoded), s", "< 60 s", lambda v: v < 60),
    (REWARD, "B8_K6.call_us_vectorised", "ranking reward call, B=8 x K=6, us", "", None),
    (REWARD, "B8_K6.call_speedup", "  vs per-pair loop, x", "> 1", lambda v: v > 1),
    (REWARD, "B64_K8.call_us_vectorised", "ranking reward call, B=64 x K=8, us", "", None),
    (REWARD, "B64_K8.call_speedup", "  vs per-pair loop, x", "> 1", lambda v: v > 1),
    (SCORE, "speedup_vs_batch_1.batch_8", "scoring images/s, batch 8 vs batch 1, x", "> 1", lambda v: v > 1),
    (
        SCORE,
        "speedup_vs_batch_1.batch_16",
        "scoring images/s, batch 16 vs batch 1, x",
        "> 1",
        lambda v: v > 1,
    ),
    (
        SERVE,
        "concurrency_8_vs_1",
        "scoring through the server, 8 vs 1 concurrent requests, x",
        "> 1",
        lambda v: v > 1,
    ),
    (PIPELINE, "dvc_repro_up_to_date_s", "`dvc repro`, all stages up to date, s", "", None),
    (PIPELINE, "flow_over_repro_ratio", "Prefect pipeline flow / `dvc repro`, x", "", None),
    (GRPO, "hf.seconds_per_update", "GRPO + LoRA update (2 groups), tiny model on CPU, s", "", None),
    (STARTUP, "entry_point.cpu_s", "importing the training stack in a stage or `vqr1`, CPU-s", "", None),
    (STARTUP, "cpu_ratio_plain_over_entry_point", "  a plain process over it, x", "> 1", lambda v: v > 1),
    (SUITE, "seconds", "full test suite, s", "< 600 s", lambda v: v < 600),
]


def headlines(results: dict[str, dict]) -> list[tuple[str, str, str, str]]:
    """(label, value, target, met) rows; a missing figure reads "not measured" rather than vanishing."""
    rows = []
    for bench, key, label, target, met in HEADLINES:
        value = flatten(results.get(bench, {}), reducer="dot").get(key)
        if not isinstance(value, int | float):
            rows.append((label, "not measured", target, ""))
            continue
        rows.append((label, f"{value:g}", target, "" if met is None else ("yes" if met(value) else "NO")))
    return rows


def _last_json(stdout: str) -> dict:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in the output")


def run_one(script: str, args: list[str], timeout_s: int) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}", "wall_s": round(wall, 1)}
    result = _last_json(proc.stdout)
    result["wall_s"] = round(wall, 1)
    return result


def suite_wall_time() -> dict:
    """The last `make test` wall time, which the Makefile records (running the suite again here would double bench time)."""
    path = REPO / "build" / "test-wall-time.json"
    if not path.exists():
        return {"error": "no build/test-wall-time.json yet: run `make test` first"}
    return json.loads(path.read_text())


def render_markdown(results: dict[str, dict]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {platform.machine()} with {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}; figures from one run of each script (medians over repeats inside the script).",
        "",
        "## Headline figures",
        "",
        markdown.table(["figure", "value", "target", "met"], headlines(results)),
        "",
        "## All figures",
        "",
    ]
    rows: list[list[object]] = []
    methods = []
    for title, result in results.items():
        flat = flatten({k: v for k, v in result.items() if k != "method"}, reducer="dot")
        rows += [[title, key, value] for key, value in flat.items()]
        if "method" in result:
            methods.append(f"- **{title}**: {result['method']}")
    lines.append(markdown.table(["benchmark", "figure", "value"], rows))
    return "\n".join([*lines, "", "## How each was measured", "", *methods, ""])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="script names to run (default: all)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per benchmark")
    args = parser.parse_args()
    console = Console()
    results: dict[str, dict] = {}
    for title, script, extra in BENCHES:
        if args.only and script not in args.only:
            continue
        console.print(f"[bold]{title}[/] ({script}) ...")
        try:
            results[title] = run_one(script, extra, args.timeout)
        except (subprocess.TimeoutExpired, ValueError) as exc:
            results[title] = {"error": str(exc)}
    results[SUITE] = suite_wall_time()
    table = Table(title="vqr1 benchmarks")
    for col in ("benchmark", "figure", "value"):
        table.add_column(col, overflow="fold")
    for title, result in results.items():
        flat = flatten({k: v for k, v in result.items() if k != "method"}, reducer="dot")
        for key, value in flat.items():
            table.add_row(title, key, str(value))
    console.print(table)
    summary = Table(title="headline figures")
    for col in ("figure", "value", "target", "met"):
        summary.add_column(col)
    for row in headlines(results):
        summary.add_row(*row)
    console.print(summary)
    (REPO / "docs").mkdir(exist_ok=True)
    (REPO / "docs" / "benchmarks.json").write_text(json.dumps(results, indent=2) + "\n")
    (REPO / "docs" / "benchmarks.md").write_text(render_markdown(results))
    console.print("written: docs/benchmarks.md, docs/benchmarks.json")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
