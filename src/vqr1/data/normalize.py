"""The normalize stage: each dataset's labels into one manifest per dataset, MOS rescaled to [1, 5].

Labels come from the reference repository's files (the paper's ground truth, vqr1.data.reference) or
the dataset's own label file (``data.labels: native``); the dataset's folder supplies the images.

Manifest columns (the contract with the gate, training and evaluation): ``image`` (posix path relative
to the workspace root), ``dataset``, ``ref_id`` (or None), ``mos_raw``, ``mos`` (per-dataset min-max
to [1, 5], higher = better: DMOS sets are flipped) and ``split``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vqr1 import layout
from vqr1.config import DataParams
from vqr1.data import catalogue, labels, reference, splits
from vqr1.data.catalogue import Dataset
from vqr1.errors import DataError
from vqr1.fsutil import atomic_dir

MANIFEST_COLUMNS = ["image", "dataset", "ref_id", "mos_raw", "mos", "split"]


def rescale(mos_raw: pd.Series, entry: Dataset) -> pd.Series:
    """Min-max to [1, 5] over the observed scores (NaN kept for the gate to report), flipped for DMOS."""
    lo, hi = np.nanmin(mos_raw.to_numpy()), np.nanmax(mos_raw.to_numpy())
    if not np.isfinite(hi - lo) or hi == lo:
        raise DataError(f"{entry.name}: cannot rescale MOS: observed range [{lo}, {hi}] is empty or constant")
    unit = (mos_raw - lo) / (hi - lo)
    return 1.0 + 4.0 * (unit if entry.higher_better else 1.0 - unit)


def build_manifest(root: Path, name: str, data: DataParams, progress: bool = True) -> pd.DataFrame:
    """Parse ``data/raw/<name>/`` into the manifest frame (paths relative to ``root``)."""
    entry = catalogue.get(name)
    raw_rel = layout.raw_dir(Path(), name)
    table = (
        reference.table(root, entry, data, progress) if catalogue.uses_reference(entry, data.labels) else None
    )
    frame = labels.parse(Path(root) / raw_rel, entry, table)
    if frame.empty:
        raise DataError(f"{name}: the label file lists no images")
    frame["image"] = [(raw_rel / p).as_posix() for p in frame["image"]]
    frame["dataset"] = name
    frame["mos"] = rescale(frame["mos_raw"], entry)
    frame["split"] = splits.assign(frame, entry, Path(root), data, progress)
    return frame[MANIFEST_COLUMNS].reset_index(drop=True)


def write_manifests(root: Path, data: DataParams, progress: bool = True) -> list[Path]:
    """Write ``data/manifests/<dataset>.parquet`` for every dataset in one atomic folder swap."""
    root = Path(root)
    frames = {name: build_manifest(root, name, data, progress) for name in data.datasets}
    with atomic_dir(root / layout.MANIFESTS_DIR) as tmp:
        for name, frame in frames.items():
            frame.to_parquet(tmp / f"{name}.parquet", index=False)
    return [layout.manifest_path(root, name) for name in frames]
