"""Pipeline overhead: `dvc repro` when everything is up to date, and the Prefect `pipeline` flow vs the
same stages through `dvc repro` alone (both on an up-to-date demo workspace, so the figures are the
orchestration cost, not the stages' work). Prints one JSON line.

    python scripts/bench_pipeline.py [--workspace build/bench/pipeline] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return env


def dvc_repro(ws: Path) -> float:
    from vqr1.dvc_runner import run_dvc

    t0 = time.perf_counter()
    run_dvc(ws, "repro", "-q")
    return time.perf_counter() - t0


def prepare(ws: Path) -> Path:
    """A demo workspace whose every stage has run once (reused when already there)."""
    from vqr1 import workspace
    from vqr1.model import tiny

    ws = workspace.init(ws, [REPO / "configs" / "demo.yaml"], source=REPO)
    if not (ws / "models" / "tiny" / "config.json").exists():
        tiny.build(ws / "models" / "tiny", warmup_steps=tiny.FORMAT_WARMUP_STEPS)
    dvc_repro(ws)
    return ws


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", type=Path, default=REPO / "build" / "bench" / "pipeline")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.update({k: v for k, v in _env().items() if k not in os.environ or k == "PATH"})
    sys.path.insert(0, str(REPO))
    from flows.pipeline import pipeline

    t0 = time.perf_counter()
    ws = prepare(args.workspace)
    prepare_s = time.perf_counter() - t0

    def flow() -> float:
        t = time.perf_counter()
        pipeline(str(ws), push=False, echo=False)
        return time.perf_counter() - t

    cold_flow = flow()  # includes starting Prefect's temporary local server
    repro_s, flow_s = [], []
    for _ in range(args.repeats):  # interleaved, so load on the shared machine hits both alike
        repro_s.append(dvc_repro(ws))
        flow_s.append(flow())
    result = {
        "dvc_repro_up_to_date_s": round(statistics.median(repro_s), 2),
        "prefect_flow_up_to_date_s": round(statistics.median(flow_s), 2),
        "flow_over_repro_ratio": round(statistics.median(flow_s) / statistics.median(repro_s), 2),
        "prefect_flow_first_call_s": round(cold_flow, 2),
        "prepare_s": round(prepare_s, 1),
        "method": (
            f"demo workspace already reproduced; median of {args.repeats} interleaved runs of `dvc repro` (all "
            "stages up to date) and of the Prefect pipeline flow (one `dvc repro <stage>` task per stage, gate "
            "check, metrics artifacts; push off). The first flow call, which starts Prefect's temporary local "
            "server, is reported apart."
        ),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
