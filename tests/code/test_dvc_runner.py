"""The one DVC runner: output returned, failures and time-outs raised as the caller's error type."""

from __future__ import annotations

from pathlib import Path

import pytest

from vqr1.dvc_runner import run_dvc
from vqr1.errors import StorageError


def test_output_failure_and_timeout(tmp_path: Path) -> None:
    run_dvc(tmp_path, "init", "--no-scm", "-q")
    assert "not in cache" not in run_dvc(tmp_path, "status")  # an empty project: nothing to report
    with pytest.raises(
        StorageError, match=r"`dvc repro no-such-stage` failed \(exit \d+\):\nERROR: .*dvc\.yaml"
    ):
        run_dvc(tmp_path, "repro", "no-such-stage", error=StorageError)
    with pytest.raises(StorageError, match=r"`dvc status` timed out after 0 s"):
        run_dvc(tmp_path, "status", timeout_s=0.01, error=StorageError)
