"""`make demo`: the main job end to end on the CPU, offline, in the workspace build/demo.

Today: a workspace with the demo profile, the tiny Qwen2.5-VL (format-warmed) and the synthetic
KADID-format set. Each pipeline issue extends this until it runs download -> normalise -> validate
-> train -> evaluate -> push.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from vqr1 import workspace
from vqr1.data import synth
from vqr1.model import tiny

DEMO_OVERLAY = Path("configs/demo.yaml")
WARMUP_STEPS = 150


def run(workdir: Path = Path("build/demo")) -> Path:
    console = Console()
    ws = workspace.init(workdir, [DEMO_OVERLAY])
    console.rule(f"[bold]vqr1 demo[/] in {ws}")
    model_dir = ws / "models" / "tiny"
    if not (model_dir / "config.json").exists():
        console.print(f"building the tiny Qwen2.5-VL with a {WARMUP_STEPS}-step format warm-up ...")
        tiny.build(model_dir, warmup_steps=WARMUP_STEPS)
    console.print(f"model: {model_dir}")
    folder = synth.build(ws / "build" / "synthetic", synth.SynthSpec(width=256, height=192), workers=2)
    console.print(f"synthetic KADID-format set: {folder} ({synth.SynthSpec().n_images} images)")
    return ws
