"""`vqr1 train ...`: commands of the train area."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, help="Train: GRPO + LoRA with the RL2R ranking reward.")
console = Console(stderr=True)

Workdir = Annotated[Path, typer.Option(help="Workspace root holding params.yaml and data/validated/")]
Overlay = Annotated[list[Path] | None, typer.Option(help="Params overlays deep-merged over params.yaml")]


@app.command("run")
def run_command(workdir: Workdir = Path("."), overlay: Overlay = None) -> None:
    """Train in-process (what the DVC `train` stage runs); resumes from the last matching checkpoint."""
    from vqr1.config import load_params
    from vqr1.train.grpo import train_workspace

    params = load_params(workdir / "params.yaml", overlay)
    out = train_workspace(workdir, params)
    console.print(f"[green]trained[/] {out}")


@app.command("merge")
def merge_command(workdir: Workdir = Path("."), overlay: Overlay = None) -> None:
    """Merge models/<run>/adapter into the base weights: models/<run>/merged (serving without PEFT)."""
    from vqr1.config import load_params
    from vqr1.layout import resolve_model_base, run_dir
    from vqr1.train.publish import export_merged

    params = resolve_model_base(load_params(workdir / "params.yaml", overlay), workdir)
    out = run_dir(workdir, params.train)
    export_merged(params, out / "adapter", out / "merged")
    console.print(f"[green]merged weights[/] {out / 'merged'}")
