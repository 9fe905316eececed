"""`vqr1 data ...`: the synthetic set (and, with the data pipeline, download/normalise/validate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, help="Datasets: synthetic set, download, normalise, validate.")
console = Console(stderr=True)


@app.command("synth")
def synth_command(
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

    if kadid_scale:
        references, types = 81, 25
    spec = synth.SynthSpec(references=references, types=types, seed=seed, width=width, height=height)
    folder = synth.build(out_dir, spec, workers=workers or synth.default_workers())
    console.print(f"[green]{spec.n_images} images[/] written to {folder}")
    if zip_path is not None:
        synth.write_zip(folder, zip_path)
        console.print(f"archive: {zip_path}")
