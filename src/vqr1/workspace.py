"""Workspaces: self-contained DVC projects made from this repo's dvc.yaml and a params profile.

The repo root is the paper workspace (`dvc repro` there runs params.yaml as committed). The demo
and the tests run the very same dvc.yaml in a separate folder whose params.yaml is params.yaml with
an overlay deep-merged over it (configs/demo.yaml), so no committed file is ever edited and the
demo's data, models and dvc.lock never mix with the paper run's. The stages' code dependencies
(``src/...``, ``configs/...`` in dvc.yaml) are rewritten to point from the workspace at the checkout, so
editing the code marks the workspace's stages too.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

from vqr1.config import deep_merge, load_params, read_yaml
from vqr1.dvc_runner import dvc_config, run_dvc
from vqr1.errors import ConfigError
from vqr1.fsutil import atomic_write_text

CODE_DEPS = re.compile(
    r"^(\s*- )((?:src|configs)/)", re.MULTILINE
)  # dvc.yaml list items naming checkout files


def repo_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` holding both dvc.yaml and params.yaml."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file() and (folder / "params.yaml").is_file():
            return folder
    raise ConfigError(f"{here}: no dvc.yaml + params.yaml here or above; run from the vqr1 checkout")


def check(path: Path | str) -> Path:
    """The absolute workspace at ``path``: a folder holding dvc.yaml and params.yaml, else a ConfigError.

    An empty path is refused rather than read as the current folder (a deployment whose VQR1_WORKSPACE
    was unset at deploy time gets ""; the worker's current folder is the checkout, the paper profile).
    """
    if not str(path).strip():
        raise ConfigError(
            "no workspace given (an empty path): pass the workspace folder; for the prefect.yaml "
            "deployments, set VQR1_WORKSPACE when running `prefect deploy`"
        )
    folder = Path(path).expanduser().resolve()
    if not ((folder / "dvc.yaml").is_file() and (folder / "params.yaml").is_file()):
        raise ConfigError(
            f"{path!s}: not a vqr1 workspace (no dvc.yaml and params.yaml there); use the checkout (the paper "
            "profile) or make one with `vqr1 workspace init DEST --overlay PROFILE.yaml`"
        )
    return folder


def init(dest: Path, overlays: list[Path], source: Path | None = None, experiments: bool = False) -> Path:
    """Create (or refresh) a workspace at ``dest``: dvc.yaml copied, params.yaml merged, DVC initialised.

    ``experiments``: a git repository too, for ``dvc exp run --queue``. DVC runs each queued experiment in
    a copy under .dvc/tmp/exps, where a relative path to the checkout would point nowhere, so the code
    dependencies name the checkout by its absolute path; :func:`commit` records the state to branch from.
    """
    source = repo_root(source)
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    merged = read_yaml(source / "params.yaml")
    for overlay in overlays:
        merged = deep_merge(merged, read_yaml(overlay if overlay.is_absolute() else source / overlay))
    checkout = source.as_posix() if experiments else Path(os.path.relpath(source, dest)).as_posix()
    pipeline = (source / "dvc.yaml").read_text(encoding="utf-8")
    if checkout != ".":
        pipeline = CODE_DEPS.sub(rf"\g<1>{checkout}/\g<2>", pipeline)
    atomic_write_text(dest / "dvc.yaml", pipeline)
    atomic_write_text(dest / "params.yaml", yaml.safe_dump(merged, sort_keys=False))
    load_params(dest / "params.yaml")  # validate the merged profile now, not at stage 3
    if experiments and not (dest / ".git").is_dir():
        _git(dest, "init", "-q")
    if not (dest / ".dvc").is_dir():
        run_dvc(dest, "init", "-q", *([] if experiments else ["--no-scm"]), error=ConfigError)
        _quiet_dvc(dest)
    return dest


def _quiet_dvc(dest: Path) -> None:
    """No usage analytics and no update check in the workspace's .dvc/config, set through DVC's own config
    API in this process (`dvc config` would start one DVC process per key)."""
    doing = "switch off DVC's analytics and update check"
    with dvc_config(dest / ".dvc", doing, ConfigError) as config, config.edit("repo") as conf:
        conf["core"]["analytics"] = False
        conf["core"]["check_update"] = False


def commit(dest: Path, message: str) -> None:
    """Commit everything git tracks in an ``experiments`` workspace (DVC keeps its outputs out of git)."""
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "--allow-empty", "-m", message)


def _git(dest: Path, *args: str) -> None:
    """git in ``dest`` under the workspace's own identity (a generated repository, never pushed)."""
    proc = subprocess.run(
        ["git", "-c", "user.name=vqr1", "-c", "user.email=vqr1@localhost", *args],
        cwd=dest,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise ConfigError(f"{dest}: git {' '.join(args)} failed: {proc.stderr.strip()}")
