"""Validated manifests -> the GRPO training dataset (the train area's view of the data contract).

Reads ONLY ``data/validated/<dataset>.parquet`` (written by the validate stage once the gate passed)
and returns a ``datasets.Dataset`` with the columns GRPOTrainer and the rewards need:

- ``prompt``: the conversational prompt of :func:`vqr1.prompts.conversation` (image placeholder + text);
- ``image``: the image file, decoded lazily to PIL by the ``datasets.Image`` feature;
- ``mos`` (float, 1-5), ``image_id`` (unique per row: ``<dataset>/<image path>``), ``dataset`` (str).

Two controls of the training loop, off in every real recipe: ``mos_hint`` says each image's MOS band in its
prompt (a known signal: GRPO must learn to use it, the positive control), and ``shuffle_mos_seed`` permutes
the MOS the reward sees across the training images, dealt evenly over the hint's bands (nothing left to learn:
the negative control).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vqr1.data.validated import read_validated
from vqr1.errors import DataError
from vqr1.layout import VALIDATED_DIR, validated_path
from vqr1.prompts import conversation, mos_band, mos_hint


def read_split(root: Path, dataset: str, split: str = "train") -> pd.DataFrame:
    """The rows of one validated manifest in ``split``, with image paths resolved against ``root``."""
    path = validated_path(root, dataset)
    frame = read_validated(root, dataset)
    rows = frame[frame["split"] == split]
    mos = pd.to_numeric(rows["mos"], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(mos).all():
        raise DataError(
            f"{path}: {int((~np.isfinite(mos)).sum())} {split} row(s) with a missing or non-numeric mos"
        )
    files = [Path(root) / p for p in rows["image"].astype(str)]
    absent = [str(f) for f in files if not f.is_file()]
    if absent:
        raise DataError(f"{path}: {len(absent)} image(s) not found, e.g. {absent[0]}")
    return pd.DataFrame(
        {
            "image": [str(f.resolve()) for f in files],
            "mos": mos,
            "image_id": [f"{dataset}/{p}" for p in rows["image"].astype(str)],
            "dataset": dataset,
        }
    )


def split_rows(root: Path, datasets: list[str], split: str = "train") -> pd.DataFrame:
    """The rows of ``split`` over ``datasets``; raises DataError when there are none."""
    frame = pd.concat([read_split(root, name, split) for name in datasets], ignore_index=True)
    if frame.empty:
        raise DataError(f"{Path(root) / VALIDATED_DIR}: no '{split}' rows in {datasets}")
    return frame


def prompts(mos: pd.Series, thinking: bool = True, hint: bool = False) -> list[list[dict]]:
    """One conversational prompt per row; with ``hint``, each says the band of the row's ``mos``."""
    return [conversation(thinking, mos_hint(m) if hint else None) for m in mos]


def shuffled_mos(mos: np.ndarray, seed: int) -> np.ndarray:
    """The MOS permuted across the rows and dealt evenly over the hint's bands: the rows of every band get
    labels spread over the whole range, so the band says nothing about the label. A uniform permutation leaves
    the bands' label means apart by chance (seed 42 on the learning profile's set: 3.06 to 3.49 over the five
    bands, in an order close to the true one), and a policy that reads the hint then learns that order: ranking
    by it gives a held-out SRCC of 0.73, a negative control that learns."""
    rng = np.random.default_rng(seed)
    bands = np.array([mos_band(m) for m in mos])
    slot = np.empty(len(mos))
    for band in np.unique(bands):
        rows = np.flatnonzero(bands == band)
        # one row in each 1/n of the band's slots, at a random place in it
        slot[rows] = (rng.permutation(len(rows)) + rng.random(len(rows))) / len(rows)
    labels = np.empty_like(mos)
    labels[np.argsort(slot)] = np.sort(mos)
    return labels


def training_dataset(
    root: Path,
    datasets: list[str],
    thinking: bool = True,
    split: str = "train",
    hint: bool = False,
    shuffle_mos_seed: int | None = None,
):
    """The GRPO dataset over ``datasets`` (rows of ``split``); raises DataError when there is nothing to train on.

    The hint names the image's own MOS, the shuffled one only moves the reward's label: with both on,
    neither the image nor the hint predicts the reward, so nothing can be learned."""
    from datasets import Dataset, Image

    frame = split_rows(root, datasets, split)
    prompt = prompts(frame["mos"], thinking, hint)
    if shuffle_mos_seed is not None:
        frame["mos"] = shuffled_mos(frame["mos"].to_numpy(), shuffle_mos_seed)
    data = Dataset.from_dict({"prompt": prompt, **{c: frame[c].tolist() for c in frame.columns}})
    return data.cast_column("image", Image())
