"""One pipeline run per workspace: a second run is refused at once instead of queueing behind DVC's lock."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from vqr1.errors import Vqr1Error
from vqr1.fsutil import atomic_write_text

LOCK_FILE = Path(".dvc/tmp/vqr1-pipeline.lock")  # .dvc/tmp is git-ignored by DVC
HOLDER_FILE = LOCK_FILE.with_suffix(".holder")


class PipelineBusy(Vqr1Error):
    """Another pipeline run holds this workspace."""


@contextlib.contextmanager
def pipeline_lock(workspace: Path) -> Iterator[None]:
    """One pipeline run per workspace: a second one is refused at once, not queued behind DVC's lock.

    The holder (pid, start time) is written beside the lock so that the refusal can say who holds it."""
    lock = FileLock(Path(workspace) / LOCK_FILE, timeout=0)
    holder = Path(workspace) / HOLDER_FILE
    try:
        lock.acquire()
    except Timeout as exc:
        who = holder.read_text(encoding="utf-8").strip() if holder.is_file() else "another process"
        raise PipelineBusy(
            f"{workspace}: a pipeline run is already in progress ({who}); wait for it or stop it"
        ) from exc
    try:
        atomic_write_text(holder, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        yield
    finally:
        holder.unlink(missing_ok=True)
        lock.release()
