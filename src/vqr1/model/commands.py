"""`vqr1 model ...`: the tiny offline test model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, help="Models: the tiny offline test model.")
console = Console(stderr=True)


@app.command("tiny")
def tiny_command(
    out_dir: Path,
    seed: int = 42,
    warmup_steps: Annotated[
        int, typer.Option(help="Supervised format warm-up steps (test/demo fixture, not the method)")
    ] = 0,
) -> None:
    """Build a tiny random Qwen2.5-VL + processor offline (about 1 MB)."""
    from vqr1.model import tiny

    tiny.build(out_dir, seed=seed, warmup_steps=warmup_steps)
    console.print(
        f"[green]tiny Qwen2.5-VL written to {out_dir}[/] (seed {seed}, warm-up steps {warmup_steps})"
    )
