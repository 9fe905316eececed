"""DVC stage `download@<dataset>`: fetch/generate, verify and extract one dataset to data/raw/<dataset>/."""

from __future__ import annotations

import sys
from pathlib import Path

from vqr1.config import load_params
from vqr1.data import download
from vqr1.errors import exit_on_error


def download_dataset(name: str) -> Path:
    return download.fetch(name, Path.cwd(), load_params("params.yaml").data)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m vqr1.stages.download DATASET")
    with exit_on_error():
        download_dataset(sys.argv[1])
