"""DVC stage `download@<dataset>`: fetch/generate, verify and extract one dataset to data/raw/<dataset>/."""

from __future__ import annotations

import sys
from pathlib import Path

from vqr1.config import load_params
from vqr1.data import download
from vqr1.stages._run import main


def run(name: str) -> Path:
    return download.fetch(name, Path.cwd(), load_params("params.yaml").data)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m vqr1.stages.download DATASET")
    main(lambda: run(sys.argv[1]))
