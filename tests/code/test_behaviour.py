"""The behavioural check (vqr1.behaviour): pairs of graded copies and the share ordered right.

The graded naming is KADID-10K's own: ``kadid10k/dmos.csv`` rows ``I01_01_01.png,I01.png,...`` (IQA-PyTorch
``scripts/process_kadid10k.py`` reads them so; the VisualQuality-R1 split lists
``datasets/KADID-10K/KADID-10K_<split>_set.txt`` hold ``I01.png I01_01_01.png mos std``): reference, then
distortion type, then level 1 (mildest) to 5.
"""

from __future__ import annotations

import math

import numpy as np

from vqr1.behaviour import graded_pairs, ordered_pairs

IMAGES = [
    "data/raw/kadid10k/images/I01_01_01.png",
    "data/raw/kadid10k/images/I01_01_03.png",
    "data/raw/kadid10k/images/I01_02_05.png",  # another type: no partner
    "data/raw/kadid10k/images/I02_01_02.png",  # another reference: no partner
    "data/raw/kadid10k/images/I01_01_05.png",
    "data/raw/kadid10k/images/I01.png",  # the reference itself carries no level
]


def test_pairs_are_one_reference_and_type_at_two_levels_milder_first() -> None:
    assert sorted(graded_pairs(IMAGES)) == [(0, 1), (0, 4), (1, 4)]


def test_share_counts_ties_as_half_and_leaves_out_unscored_images() -> None:
    # levels 1, 3, 5 of I01 type 01 scored 4.0, 3.0, 3.0: (1,3) right, (1,5) right, (3,5) a tie
    pred = np.array([4.0, 3.0, 1.0, 2.0, 3.0, 5.0])
    assert ordered_pairs(pred, IMAGES) == {"ordered_pairs": (1 + 1 + 0.5) / 3, "n_ordered_pairs": 3}
    pred[4] = math.nan
    assert ordered_pairs(pred, IMAGES) == {"ordered_pairs": 1.0, "n_ordered_pairs": 1}
    pred[0] = math.nan
    assert ordered_pairs(pred, IMAGES) == {"ordered_pairs": None, "n_ordered_pairs": 0}


def test_reversed_and_constant_scorers_score_zero_and_chance() -> None:
    images = [f"I07_03_0{level}.png" for level in range(1, 6)]
    assert ordered_pairs(np.arange(5.0), images)["ordered_pairs"] == 0.0
    assert ordered_pairs(np.full(5, 3.0), images) == {"ordered_pairs": 0.5, "n_ordered_pairs": 10}


def test_sets_without_graded_names_get_no_figure() -> None:
    koniq = ["1024x768/826373.jpg", "1024x768/9931218.jpg"]  # KonIQ-10k: one number per image
    assert ordered_pairs(np.array([1.0, 2.0]), koniq) == {}
