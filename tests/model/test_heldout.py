"""The held-out SRCC callback: one figure from sampled answers per image, and the live model and processor
handed back to the trainer as they were lent (training mode, the tokenizer's padding side)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from tests.model.helpers import tiny_model_params
from vqr1.config import Params
from vqr1.model.loading import load_model, load_processor
from vqr1.train.heldout import HeldOutSRCC

SAMPLING = {"temperature": 1.0, "top_p": 1.0, "top_k": 50, "max_new_tokens": 32}


def _rows(synth_root: Path, n: int) -> pd.DataFrame:
    labels = pd.read_csv(synth_root / "kadid10k" / "dmos.csv").head(n)
    return pd.DataFrame(
        {
            "image": [str(synth_root / "kadid10k" / "images" / name) for name in labels["dist_img"]],
            "mos": labels["dmos"],
        }
    )


def _params(model_dir: Path, samples: int) -> Params:
    heldout = {"every": 1, "samples": samples, "max_images": 20}
    return Params.model_validate(tiny_model_params(model_dir, train={"heldout": heldout}))


def test_measure_samples_every_image_and_hands_the_model_back_as_lent(
    warm_model_dir: Path, synth_root: Path
) -> None:
    params = _params(warm_model_dir, samples=3)
    model = load_model(params.model)
    processor = load_processor(params.model.base, params.model, padding_side="right")
    model.train()
    rows = _rows(synth_root, 20)  # more than one generate batch (16 images)

    figures = HeldOutSRCC(rows, params).measure(model, processor, SAMPLING)

    assert model.training, "the trainer's model must come back in training mode"
    assert processor.tokenizer.padding_side == "right", "the trainer's padding side must be restored"
    assert 0.8 <= figures["heldout_parsed"] <= 1.0, "the format-warmed model's answers parse"
    assert math.isnan(figures["heldout_srcc"]) or -1.0 <= figures["heldout_srcc"] <= 1.0
    # the rows are I01's graded copies (KADID naming), so the behavioural share is measured too
    assert 0.0 <= figures["heldout_ordered"] <= 1.0
