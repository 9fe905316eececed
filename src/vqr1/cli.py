"""The `vqr1` command line: one sub-app per pipeline area (data, model, train, evaluate, storage ...).

Errors the user can fix (:class:`vqr1.errors.Vqr1Error`) print one red line and exit 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vqr1.errors import Vqr1Error

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
data_app = typer.Typer(no_args_is_help=True, help="Datasets: synthetic set, download, normalise, validate.")
model_app = typer.Typer(no_args_is_help=True, help="Models: the tiny offline test model.")
app.add_typer(data_app, name="data")
app.add_typer(model_app, name="model")
console = Console(stderr=True)


@model_app.command("tiny")
def model_tiny(
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


@data_app.command("synth")
def data_synth(
    out_dir: Path,
    references: int = 8,
    types: int = 6,
    seed: int = 42,
    width: int = 512,
    height: int = 384,
    kadid_scale: Annotated[
        bool, typer.Option(help="81 references x 25 types x 5 levels = 10,125 images")
    ] = False,
    zip_path: Annotated[
        Path | None, typer.Option("--zip", help="Also write the KADID-style zip here")
    ] = None,
    workers: int = 0,
) -> None:
    """Build a synthetic dataset in the exact KADID-10K layout (kadid10k/images, kadid10k/dmos.csv)."""
    from vqr1.data import synth

    spec = (
        synth.SynthSpec(references=81, types=25, seed=seed, width=width, height=height)
        if kadid_scale
        else synth.SynthSpec(references=references, types=types, seed=seed, width=width, height=height)
    )
    folder = synth.build(out_dir, spec, workers=workers or synth.default_workers())
    console.print(f"[green]{spec.n_images} images[/] written to {folder}")
    if zip_path is not None:
        synth.write_zip(folder, zip_path)
        console.print(f"archive: {zip_path}")


@app.command("demo")
def demo(workdir: Path = Path("build/demo")) -> None:
    """Run the main job end to end on the CPU, offline (what `make demo` runs)."""
    from vqr1 import demo as demo_mod

    demo_mod.run(workdir)


def main() -> None:
    """Entry point that turns user-fixable errors into one line instead of a traceback."""
    try:
        app()
    except Vqr1Error as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(1)
