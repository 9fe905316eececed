"""`vqr1 storage ...`: the embedded S3 server, the DVC remote, stored runs and the champion."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from vqr1.config import load_params
from vqr1.storage import artifacts, dvc_remote, registry, s3, seaweed

app = typer.Typer(no_args_is_help=True, help="S3 storage: embedded SeaweedFS, DVC remote, runs, registry.")
console = Console()

DirOption = typer.Option(None, "--dir", help="storage folder (default: $VQR1_STORAGE_DIR or ./.storage)")
ParamsOption = typer.Option(Path("params.yaml"), "--params", help="params.yaml of the project/workspace")


def _dir(path: Path | None) -> Path:
    return Path(path).resolve() if path else s3.default_storage_dir()


def _settings(params_path: Path, storage_dir: Path | None, readonly: bool = False) -> s3.S3Settings:
    return s3.resolve(load_params(params_path).storage, storage_dir=_dir(storage_dir), readonly=readonly)


@app.command("up")
def up(storage_dir: Path | None = DirOption, params_path: Path = ParamsOption) -> None:
    """Start the embedded SeaweedFS on 127.0.0.1 (credentials in <dir>/s3.env, mode 600) and create the bucket."""
    folder = _dir(storage_dir)
    server = seaweed.up(folder, [load_params(params_path).storage.bucket])
    console.print(f"SeaweedFS S3 at [bold]{server.endpoint_url}[/] (pid {server.pid}), data in {folder}")
    console.print(
        f"credentials: {folder / s3.ENV_FILE_NAME}  (load them with: set -a; . {folder / s3.ENV_FILE_NAME})"
    )


@app.command("down")
def down(storage_dir: Path | None = DirOption) -> None:
    """Stop the embedded SeaweedFS (data and credentials are kept)."""
    stopped = seaweed.down(_dir(storage_dir))
    console.print("stopped" if stopped else "not running")


@app.command("status")
def status(storage_dir: Path | None = DirOption) -> None:
    """Whether the embedded server runs, its endpoint and buckets (never the secrets)."""
    console.print_json(json.dumps(seaweed.status(_dir(storage_dir))))


@app.command("remote")
def remote(
    project: Path = typer.Argument(Path("."), help="DVC project (workspace) folder"),
    storage_dir: Path | None = DirOption,
    readonly: bool = typer.Option(False, help="use the read-only identity (pull-request evaluation)"),
    credentials_from_env: bool = typer.Option(
        False, "--env-credentials", help="leave credentials to the AWS_* environment (CI secrets)"
    ),
) -> None:
    """Make the S3 store DVC's default remote of PROJECT (credentials only in .dvc/config.local)."""
    params = load_params(project / "params.yaml").storage
    settings = s3.resolve(params, storage_dir=_dir(storage_dir), readonly=readonly)
    url = dvc_remote.configure(project, params, settings, credentials_from_env=credentials_from_env)
    console.print(f"DVC default remote '{dvc_remote.REMOTE}' = {url} ({settings.endpoint_url or 'AWS'})")


@app.command("runs")
def runs(storage_dir: Path | None = DirOption, params_path: Path = ParamsOption) -> None:
    """List the complete runs in the artifact store and mark the champion."""
    settings = _settings(params_path, storage_dir, readonly=True)
    client = s3.client(settings)
    champion, _ = registry.read_champion(client, settings)
    table = Table("run id", "champion")
    for run_id in artifacts.list_runs(client, settings):
        table.add_row(run_id, "*" if champion and champion["run_id"] == run_id else "")
    console.print(table)


@app.command("download")
def download(
    run_id: str = typer.Argument(..., help="run id, or 'champion'"),
    dest: Path = typer.Argument(
        ..., help="new folder, or a previous download to replace once every checksum matches"
    ),
    storage_dir: Path | None = DirOption,
    params_path: Path = ParamsOption,
    force: bool = typer.Option(False, "--force", help="replace DEST even if it holds other files"),
) -> None:
    """Download a run (or the champion) and verify every file's sha256 against its manifest.

    DEST must be new, empty or a previous download of vqr1 (it never deletes what it did not write).
    """
    settings = _settings(params_path, storage_dir, readonly=True)
    client = s3.client(settings)
    if run_id == "champion":
        champion, _ = registry.read_champion(client, settings)
        if champion is None:
            raise typer.BadParameter("no champion has been promoted yet")
        run_id = champion["run_id"]
    manifest = artifacts.download_run(client, settings, run_id, dest, force=force)
    console.print(f"run {run_id}: {len(manifest.files)} files verified into {dest}")
