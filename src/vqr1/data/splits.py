"""Train/val/test splits: by reference image (deterministic for a seed) or the paper's published lists.

Splitting by reference keeps every distorted version of one photo in one split, so validation never
sees content the policy trained on. Groups are sorted before the seeded permutation, so the split
depends only on the seed and the group names, never on file or set iteration order.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from vqr1.config import DataParams
from vqr1.data import catalogue, reference
from vqr1.data.catalogue import Dataset
from vqr1.errors import DataError

SPLITS = ("train", "val", "test")
PAPER_LISTS_SET = "kadid10k"  # the published lists name KADID-10K's images


def split_counts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    """Groups per split, rounding half up: 81 KADID references -> 49/16/16 (6,125/2,000/2,000 images)."""
    n_train = int(np.floor(fractions[0] * n + 0.5))
    n_val = min(n - n_train, int(np.floor(fractions[1] * n + 0.5)))
    return n_train, n_val, n - n_train - n_val


def by_group(groups: pd.Series, fractions: tuple[float, float, float], seed: int) -> pd.Series:
    """Assign each distinct group (reference id) to one split; rows follow their group."""
    keys = sorted(groups.astype(str).unique())
    order = np.random.default_rng(seed).permutation(len(keys))
    n_train, n_val, _ = split_counts(len(keys), fractions)
    label = {}
    for rank, index in enumerate(order):
        label[keys[index]] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return groups.astype(str).map(label)


def paper_lists(root: Path, data: DataParams, progress: bool = True) -> dict[str, str]:
    """Distorted image name -> split from the paper's KADID-10K lists in the reference repository.

    Each line is ``I01.png I01_01_01.png mos std``: the reference image first, the distorted one second.
    """
    entry = catalogue.get(PAPER_LISTS_SET)
    split_of_file = {PurePosixPath(rel).name: split for split, rel in catalogue.KADID_LISTS.items()}
    lists = reference.table(Path(root), entry, data, progress)
    mapping: dict[str, str] = {}
    for name, file in zip(lists["image"], lists["file"], strict=True):
        split = split_of_file[file]
        if mapping.setdefault(name, split) != split:
            raise DataError(f"{file}: {name} is listed in both {mapping[name]} and {split}")
    return mapping


def apply_lists(images: pd.Series, mapping: dict[str, str], dataset: str) -> pd.Series:
    """Split of each image by base name; an image absent from every list is an error."""
    splits = images.map(lambda p: mapping.get(PurePosixPath(p).name))
    missing = images[splits.isna()]
    if len(missing):
        raise DataError(
            f"{dataset}: {len(missing)} images are in none of the paper split lists, e.g. {list(missing[:3])}"
        )
    return splits


def required_splits(entry: Dataset, data: DataParams) -> list[str]:
    """The splits a dataset must populate (the gate fails on an empty one): ``test`` for an evaluation set;
    for a training set ``train`` and every split the method gives a share (all three with the paper lists)."""
    if entry.name not in data.train_datasets:
        return ["test"]
    if data.split.method == "paper_lists" and entry.name == PAPER_LISTS_SET:
        return list(SPLITS)
    return [split for split, share in zip(SPLITS, data.split.fractions, strict=True) if share > 0]


def assign(
    frame: pd.DataFrame, entry: Dataset, root: Path, data: DataParams, progress: bool = True
) -> pd.Series:
    """The split column: evaluation sets are all "test"; training sets by reference or by the paper lists.

    The paper lists exist only for KADID-10K; any other training set is split by reference (by image
    where the set has no references).
    """
    if entry.name not in data.train_datasets:
        return pd.Series("test", index=frame.index)
    if data.split.method == "paper_lists" and entry.name == PAPER_LISTS_SET:
        return apply_lists(frame["image"], paper_lists(root, data, progress), entry.name)
    groups = frame["ref_id"].where(frame["ref_id"].notna(), frame["image"])
    return by_group(groups, data.split.fractions, data.split.seed)
