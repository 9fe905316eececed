"""DVC stage `normalize`: every dataset's labels into data/manifests/<dataset>.parquet."""

from __future__ import annotations

from pathlib import Path

from vqr1.config import load_params
from vqr1.data import normalize
from vqr1.errors import exit_on_error


def write_manifests() -> list[Path]:
    return normalize.write_manifests(Path.cwd(), load_params("params.yaml").data)


if __name__ == "__main__":
    with exit_on_error():
        write_manifests()
