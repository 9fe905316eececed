"""Reading the gate's output, data/validated/<dataset>.parquet: the one input of training and evaluation.

Both read through :func:`read_validated`, so a missing, unreadable or incomplete manifest fails the
same way, naming the file, whichever stage meets it first.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vqr1.errors import DataError
from vqr1.layout import validated_path

REQUIRED_COLUMNS = ("image", "dataset", "mos", "split")


def read_validated(root: Path, dataset: str) -> pd.DataFrame:
    """The validated manifest of ``dataset`` in workspace ``root``, with at least :data:`REQUIRED_COLUMNS`."""
    path = validated_path(root, dataset)
    if not path.is_file():
        raise DataError(f"{path}: validated manifest missing (run the validate stage first)")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise DataError(f"{path}: cannot read parquet ({exc})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}")
    return frame.reset_index(drop=True)


def subset(frame: pd.DataFrame, max_images: int, seed: int) -> pd.DataFrame:
    """A seeded random subset of ``max_images`` rows (0 = all), kept in manifest order: spread over every
    reference of a split, where the first rows would be the first few references' copies."""
    if 0 < max_images < len(frame):
        return frame.sample(n=max_images, random_state=seed).sort_index().reset_index(drop=True)
    return frame
