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


VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Details below each set's line")]


@app.command("catalogue")
def catalogue_command(verbose: VerboseOption = False) -> None:
    """List the catalogued datasets, one line each: expected images and source kinds."""
    from vqr1.data import status

    typer.echo("\n".join(status.catalogue_lines(verbose)))


@app.command("status")
def status_command(root: RootOption = Path("."), verbose: VerboseOption = False) -> None:
    """Each dataset of ROOT's params: present, will download (from where), or to fetch by hand (and how).

    Exits 1 while a set the params need has no source, so a script can wait on it.
    """
    from vqr1.config import load_params
    from vqr1.data import status

    statuses = status.workspace_status(root, load_params(root / "params.yaml").data)
    typer.echo("\n".join(status.report(statuses, verbose)))
    if any(s.missing for s in statuses):
        raise typer.Exit(1)
