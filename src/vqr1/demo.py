"""`make demo`: the main job end to end on the CPU, offline, in the workspace build/demo.

Workspace (params.yaml + configs/demo.yaml + configs/learn.yaml, the CPU learning profile) -> tiny
Qwen2.5-VL with a short format warm-up (a fixture: a random model never writes the answer format) -> the
Prefect ``pipeline`` flow: download (the synthetic KADID-format set is generated) -> normalize -> validate
(GX gate) -> GRPO, with the held-out SRCC measured before the first step and after the last -> evaluate on
the held-out test references -> storage up (embedded SeaweedFS in build/demo/.storage) -> dvc push + run
upload to S3.
The storage is stopped at the end unless ``keep_storage``. Ends with the metrics table, the held-out
SRCC before and after training, where the artifacts are, and how to open the Prefect UI.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from vqr1 import workspace
from vqr1.model import tiny
from vqr1.storage import seaweed

OVERLAYS = [Path("configs/demo.yaml"), Path("configs/learn.yaml")]


def run_demo(workdir: Path = Path("build/demo"), keep_storage: bool = False) -> dict:
    from flows.pipeline import print_summary, run_pipeline

    console = Console()
    ws = workspace.init(workdir, OVERLAYS)
    console.rule(f"[bold]vqr1 demo[/] in {ws}")
    console.print(f"the tiny Qwen2.5-VL with a {tiny.FORMAT_WARMUP_STEPS}-step format warm-up ...")
    tiny.build_warm(ws / "models" / "tiny")
    storage_dir = ws / ".storage"
    try:
        result = run_pipeline(ws, storage_dir=storage_dir)
    finally:
        if not keep_storage:
            seaweed.down(storage_dir)
    console.rule("[bold]demo finished")
    print_summary(result, console)
    if keep_storage:
        console.print(
            f"storage still running: `vqr1 storage status --dir {storage_dir}`; stop with `vqr1 storage down`"
        )
    else:
        console.print(
            f"storage stopped (data kept); browse it again with `vqr1 storage up --dir {storage_dir}`"
        )
    return result
