"""A behavioural check of a scorer: of two copies of one reference with the same distortion at two levels,
the more distorted copy must score lower.

It needs no MOS: the order comes from how the images were made, so it checks what a model learned, not how
well it fits one set's labels. KADID-10K names each distorted image ``I<ref>_<type>_<level>.png``, level 1
the mildest and 5 the strongest (its ``dmos.csv`` rows read ``I01_01_01.png,I01.png,...``); the synthetic
set follows the same naming. Sets named otherwise have no levels and get no figure.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import numpy as np

GRADED_NAME = re.compile(r"(?P<ref>[^_]+)_(?P<type>\d+)_(?P<level>\d+)")


def graded_pairs(images: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs (milder, stronger): the same reference and distortion type at two different levels.
    Images whose file name does not follow the graded naming are left out."""
    by_kind: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for index, image in enumerate(images):
        match = GRADED_NAME.fullmatch(PurePosixPath(str(image).replace("\\", "/")).stem)
        if match:
            by_kind[match["ref"], match["type"]].append((int(match["level"]), index))
    pairs = []
    for copies in by_kind.values():
        copies.sort()
        pairs += [(i, j) for a, (la, i) in enumerate(copies) for lb, j in copies[a + 1 :] if la < lb]
    return pairs


def ordered_pairs(pred: np.ndarray, images: Sequence[str]) -> dict[str, Any]:
    """The share of graded pairs whose more distorted copy scored lower (``ordered_pairs``; a tie counts a
    half, so one answer for every image is 0.5, chance) and how many pairs it rests on (``n_ordered_pairs``).
    Pairs with an unscored image are left out; an empty dict when the set has no graded pairs."""
    pred = np.asarray(pred, dtype=float)
    graded = graded_pairs(images)
    if not graded:
        return {}
    pairs = np.asarray([p for p in graded if np.isfinite(pred[list(p)]).all()], dtype=int).reshape(-1, 2)
    if not len(pairs):
        return {"ordered_pairs": None, "n_ordered_pairs": 0}
    milder, stronger = pred[pairs[:, 0]], pred[pairs[:, 1]]
    share = float(np.mean((milder > stronger) + 0.5 * (milder == stronger)))
    return {"ordered_pairs": share, "n_ordered_pairs": len(pairs)}
