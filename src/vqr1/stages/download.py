"""DVC stage `download@<dataset>`: fetch/generate, verify and extract one dataset to data/raw/<dataset>/.

A set with no source stops the stage with the list of every set still to fetch by hand (vqr1.data.status),
as the `sources` stage does, not with that one set alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

from vqr1.config import load_params
from vqr1.data import catalogue, download, status
from vqr1.errors import exit_on_error


def download_dataset(name: str) -> Path:
    root, data = Path.cwd(), load_params("params.yaml").data
    if catalogue.resolve(name, data).missing:
        status.require_sources(root, data)
    return download.fetch(name, root, data)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m vqr1.stages.download DATASET")
    with exit_on_error():
        download_dataset(sys.argv[1])
