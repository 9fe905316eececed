"""Fixtures of the data-pipeline tests: params for the small synthetic set and its KADID-format zip."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synth_zip(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic set as a KADID-format zip (kadid10k/dmos.csv, kadid10k/images/...)."""
    from vqr1.data import synth

    return synth.write_zip(synth_root / "kadid10k", tmp_path_factory.mktemp("zip") / "kadid10k.zip")
