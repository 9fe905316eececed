"""`vqr1 data ...`: the synthetic set, the catalogue, and the download / normalize / validate stages."""

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


RootOption = Annotated[Path, typer.Option(help="Workspace root holding params.yaml (the stage's cwd)")]


@app.command("download")
def download_command(name: str, root: RootOption = Path(".")) -> None:
    """Fetch (or generate), verify and extract one dataset into ROOT/data/raw/NAME/."""
    from vqr1.config import load_params
    from vqr1.data import download

    folder = download.fetch(name, root, load_params(root / "params.yaml").data)
    console.print(f"[green]{name}[/] ready in {folder}")


@app.command("normalize")
def normalize_command(root: RootOption = Path(".")) -> None:
    """Write ROOT/data/manifests/<dataset>.parquet for every dataset in params."""
    from vqr1.config import load_params
    from vqr1.data import normalize

    for path in normalize.write_manifests(root, load_params(root / "params.yaml").data):
        console.print(f"manifest: {path}")


@app.command("validate")
def validate_command(root: RootOption = Path(".")) -> None:
    """Run the data gate; exit 1 with the failed expectations when any dataset fails."""
    from vqr1 import layout
    from vqr1.config import load_params
    from vqr1.data import gate

    summary = gate.validate_manifests(root, load_params(root / "params.yaml").data)
    console.print(
        f"[green]data gate passed[/] ({summary['seconds']} s); report {root / layout.GATE_REPORT_DIR}"
    )


@app.command("catalogue")
def catalogue_command() -> None:
    """List the catalogued datasets: expected count, raw scales and direction, each part's source."""
    from rich.table import Table

    from vqr1.data.catalogue import DATASETS

    table = Table("name", "images", "raw scale (native; reference)", "parts: source", "notes")
    for d in DATASETS.values():
        parts = ", ".join(f"{a.part}: {'download' if a.url else 'manual'}" for a in d.archives)
        scale = f"{d.mos_range[0]:g}-{d.mos_range[1]:g}" if d.parser else "-"
        if d.reference:
            scale += f"; {d.reference.mos_range[0]:g}-{d.reference.mos_range[1]:g}"
        scale += f", {'higher' if d.higher_better else 'lower'} better"
        table.add_row(d.name, str(d.count or "params"), scale, "generated" if d.generated else parts, d.notes)
    Console().print(table)
