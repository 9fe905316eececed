"""The one DVC runner: output returned, failures and time-outs raised as the caller's error type; DVC's config API
with its errors named the same way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vqr1.dvc_runner import dvc_config, run_dvc
from vqr1.errors import ConfigError, StorageError


def test_output_failure_and_timeout(tmp_path: Path) -> None:
    run_dvc(tmp_path, "init", "--no-scm", "-q")
    assert "not in cache" not in run_dvc(tmp_path, "status")  # an empty project: nothing to report
    with pytest.raises(
        StorageError, match=r"`dvc repro no-such-stage` failed \(exit \d+\):\nERROR: .*dvc\.yaml"
    ):
        run_dvc(tmp_path, "repro", "no-such-stage", error=StorageError)
    with pytest.raises(StorageError, match=r"`dvc status` timed out after 0 s"):
        run_dvc(tmp_path, "status", timeout_s=0.01, error=StorageError)


def test_dvc_config_names_the_folder_and_keeps_the_file(tmp_path: Path) -> None:
    """DVC's ConfigError, from an unreadable file or a value its schema refuses, becomes the caller's error
    naming the folder; a refused value leaves the file as it was (DVC validates before it writes)."""
    dvc_dir = tmp_path / ".dvc"
    dvc_dir.mkdir()
    (dvc_dir / "config").write_text("[core\n")  # an INI section never closed
    folder = re.escape(str(dvc_dir))
    with (
        pytest.raises(ConfigError, match=rf"{folder}: could not switch it off: config file error"),
        dvc_config(dvc_dir, "switch it off", ConfigError),
    ):
        pass
    (dvc_dir / "config").write_text("[core]\n    no_scm = true\n")
    with (
        pytest.raises(StorageError, match=rf"{folder}: could not configure: .*expected true or false"),
        dvc_config(dvc_dir, "configure", StorageError) as config,
        config.edit("repo") as conf,
    ):
        conf["core"]["analytics"] = "maybe"
    assert (dvc_dir / "config").read_text() == "[core]\n    no_scm = true\n"
    with dvc_config(dvc_dir, "configure", StorageError) as config, config.edit("repo") as conf:
        conf["core"]["analytics"] = False
    assert "analytics = False" in (dvc_dir / "config").read_text()
