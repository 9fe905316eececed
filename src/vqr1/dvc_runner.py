"""Running DVC: this environment's ``dvc``, its environment, the one subprocess runner, and DVC's config API.

Workspace set-up, the DVC remote (push, pull) and the Prefect flows (``dvc repro``) all run DVC through
:func:`run_dvc`, so stage commands use the same packages as the caller and every failure reads the
same way: the command, its exit status and DVC's last lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vqr1.errors import Vqr1Error

if TYPE_CHECKING:
    from dvc.config import Config

TAIL_LINES = 25


def dvc_bin() -> str:
    """The dvc executable of this interpreter's environment (so stages run with the same packages)."""
    candidate = Path(sys.executable).with_name("dvc")
    return str(candidate) if candidate.exists() else "dvc"


def dvc_env() -> dict[str, str]:
    """The environment for DVC: no analytics, no cloud-metadata probes, this venv first on PATH."""
    env = dict(os.environ)
    env.update({"DVC_NO_ANALYTICS": "1", "AWS_EC2_METADATA_DISABLED": "true"})
    env["PATH"] = os.pathsep.join([str(Path(dvc_bin()).parent), env.get("PATH", "")])
    return env


def run_dvc(
    root: Path,
    *args: str,
    echo: bool = False,
    timeout_s: float | None = None,
    error: type[Vqr1Error] = Vqr1Error,
) -> str:
    """Run ``dvc <args>`` in ``root`` and return its output (stdout and stderr in order).

    ``echo`` streams the output to stderr as it comes (long stages); a non-zero exit or ``timeout_s``
    raises ``error`` naming the command, with DVC's last lines."""
    shown = f"{root}: `dvc {' '.join(args)}`"
    output: list[str] = []
    timed_out = threading.Event()
    with subprocess.Popen(
        [dvc_bin(), *args],
        cwd=root,
        env=dvc_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
    ) as proc:
        timer = threading.Timer(timeout_s or 0, lambda: (timed_out.set(), proc.kill()))
        if timeout_s:
            timer.start()
        try:
            for line in proc.stdout or ():
                output.append(line)
                if echo:
                    sys.stderr.write(line)
        finally:
            timer.cancel()
    if timed_out.is_set():
        raise error(f"{shown} timed out after {timeout_s:.0f} s")
    if proc.returncode != 0:
        tail = "".join(output[-TAIL_LINES:]).rstrip()
        raise error(f"{shown} failed (exit {proc.returncode}):\n{tail}")
    return "".join(output)


def dvc_json(root: Path, *args: str) -> Any:
    """``dvc <args> --json``, parsed. DVC's warnings share the output, so the document is read from the
    first line that opens a JSON array or object."""
    output = run_dvc(root, *args, "--json")
    start = re.search(r"^[\[{]", output, re.MULTILINE)
    if start is None:
        raise Vqr1Error(f"{root}: `dvc {' '.join(args)} --json` printed no JSON:\n{output[-2000:]}")
    return json.loads(output[start.start() :])


@contextlib.contextmanager
def dvc_config(dvc_dir: Path, doing: str, error: type[Vqr1Error] = Vqr1Error) -> Iterator[Config]:
    """DVC's own config API on the project's ``dvc_dir`` (``config.edit(level)``, checked by DVC's schema, in
    this process rather than one `dvc config` process per key). DVC's ConfigError (an unreadable file, a
    value its schema refuses) raises ``error`` naming the folder and what was being done, without a traceback."""
    from dvc.config import Config, ConfigError

    try:
        yield Config(dvc_dir=str(dvc_dir))
    except ConfigError as exc:
        raise error(f"{dvc_dir}: could not {doing}: {exc}") from exc
