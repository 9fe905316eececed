"""The held-out SRCC callback: one figure from sampled answers per image, the live model and processor
handed back to the trainer as they were lent (training mode, the tokenizer's padding side), and the training's
random stream left where it was."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr

from tests.model.helpers import tiny_model_params
from vqr1.behaviour import ordered_pairs
from vqr1.config import Params
from vqr1.inference.backends import sample_completions
from vqr1.model.loading import load_model, load_processor
from vqr1.parsing import parse_score
from vqr1.train import heldout
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
    warm_model_dir: Path, synth_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every image is sampled ``samples`` times, across more than one generate batch, and the figures are
    the ones its completions give: recomputed here from what the real sampler returned, so the check holds
    whatever the completions are (they are sampled, and kernels differ per CPU)."""
    params = _params(warm_model_dir, samples=3)
    model = load_model(params.model)
    processor = load_processor(params.model.base, params.model, padding_side="right")
    model.train()
    rows = _rows(synth_root, 20)  # more than one generate batch (16 images)
    returned: list[list[str]] = []

    def recording(*args: object, **kwargs: object) -> list[list[str]]:
        completions = sample_completions(*args, **kwargs)
        returned.extend(completions)
        return completions

    monkeypatch.setattr(heldout, "sample_completions", recording)
    figures = HeldOutSRCC(rows, params).measure(model, processor, SAMPLING)

    assert model.training, "the trainer's model must come back in training mode"
    assert processor.tokenizer.padding_side == "right", "the trainer's padding side must be restored"
    assert [len(texts) for texts in returned] == [3] * 20
    scores = [[s for s in map(parse_score, texts) if s is not None] for texts in returned]
    assert figures["heldout_parsed"] == sum(map(len, scores)) / 60
    medians = np.array([np.median(s) if s else np.nan for s in scores])
    scored = np.isfinite(medians)
    if scored.sum() > 2:
        expected = spearmanr(medians[scored], rows["mos"].to_numpy()[scored]).statistic
        assert figures["heldout_srcc"] == pytest.approx(expected, nan_ok=True)
    else:
        assert math.isnan(figures["heldout_srcc"])
    # the rows are I01's graded copies (KADID naming), so the behavioural share is measured too
    share = ordered_pairs(medians, rows["image"].tolist())["ordered_pairs"]
    assert figures.get("heldout_ordered") == share


def test_measuring_leaves_the_training_stream_where_it_was_and_repeats_itself(
    warm_model_dir: Path, synth_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run measured every 20 steps and the same run measured only at its end must train alike (make control
    counts the suite's learning test by the first): a measurement draws from its own seeded stream and hands
    the global one back as it was, so two measurements of one model sample the same completions."""
    params = _params(warm_model_dir, samples=2)
    model = load_model(params.model)
    processor = load_processor(params.model.base, params.model, padding_side="right")
    rows = _rows(synth_root, 6)
    returned: list[list[list[str]]] = []

    def recording(*args: object, **kwargs: object) -> list[list[str]]:
        returned.append(sample_completions(*args, **kwargs))
        return returned[-1]

    monkeypatch.setattr(heldout, "sample_completions", recording)
    torch.manual_seed(1234)
    training_stream = torch.get_rng_state()
    callback = HeldOutSRCC(rows, params)
    first = callback.measure(model, processor, SAMPLING)
    assert torch.equal(torch.get_rng_state(), training_stream), "the measurement moved the training's stream"
    torch.rand(7)  # the training draws on between two measurements
    second = callback.measure(model, processor, SAMPLING)
    assert returned[0] == returned[1]
    assert second == pytest.approx(first, nan_ok=True)


LEARNED = (
    {"heldout_srcc": 0.05, "heldout_parsed": 0.9},
    {"heldout_srcc": 0.78, "heldout_parsed": 0.99, "heldout_ordered": 0.8},
)


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        ({}, {}, None),
        ({}, {"heldout_srcc": math.nan}, "collapsed"),
        ({}, {"heldout_srcc": 0.45}, "held-out SRCC 0.050 -> 0.450"),  # not above 0.5
        ({"heldout_srcc": 0.3}, {"heldout_srcc": 0.55}, "held-out SRCC 0.300 -> 0.550"),  # up by only 0.25
        ({"heldout_srcc": math.nan}, {"heldout_srcc": 0.55}, None),  # one answer before: no ranking, 0
        ({"heldout_parsed": 0.5}, {}, "parsed before training"),
        ({}, {"heldout_parsed": 0.85}, "parsed after training"),
        ({}, {"heldout_ordered": 0.5}, "graded pairs ordered: 0.500"),
        ({}, {"heldout_ordered": None}, "graded pairs ordered: nan"),  # the check was not logged
    ],
)
def test_the_learned_bar_names_what_a_run_lacks(before: dict, after: dict, reason: str | None) -> None:
    first = LEARNED[0] | before
    last = {k: v for k, v in (LEARNED[1] | after).items() if v is not None}
    shortfalls = heldout.LearnedBar().shortfalls(first, last)
    if reason is None:
        assert shortfalls == []
    else:
        assert len(shortfalls) == 1 and reason in shortfalls[0], shortfalls
