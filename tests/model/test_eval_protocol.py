"""The paper's evaluation protocol: native resolution (the processor's own limit), visual tokens recorded,
unparsable answers counted and never replaced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from transformers import AutoImageProcessor, Qwen2VLImageProcessor

from vqr1.config import EvaluateParams, ModelParams
from vqr1.evaluate.evaluation import counts, predictions_frame
from vqr1.evaluate.metrics import dataset_metrics
from vqr1.inference.processor import scoring_processor, visual_tokens
from vqr1.inference.scorer import ImageScore

# Qwen2.5-VL-7B-Instruct's image processor: 14 px patches merged 2x2, pixels in [3136, 12845056]
QWEN_7B = {
    "patch_size": 14,
    "merge_size": 2,
    "temporal_patch_size": 2,
    "min_pixels": 3136,
    "max_pixels": 12845056,
}


@pytest.mark.parametrize(
    ("size", "tokens"),
    [((1024, 768), 999), ((512, 384), 252), ((500, 500), 324), ((4000, 3000), None)],
)
def test_visual_tokens_are_what_the_processor_makes(size: tuple[int, int], tokens: int | None) -> None:
    """KonIQ 1024x768 -> 1036x756 -> 999 tokens; KADID 512x384 -> 252 (SPEC); checked against image_grid_thw."""
    ip = Qwen2VLImageProcessor(**QWEN_7B)
    counted = visual_tokens(ip, *size)
    if tokens is not None:
        assert counted == tokens
    if size[0] * size[1] <= 2_000_000:  # run the processor itself on the smaller ones
        grid = ip(images=[Image.new("RGB", size)], return_tensors="np")["image_grid_thw"][0]
        assert counted == int(np.prod(grid)) // ip.merge_size**2
    else:
        assert counted * 28 * 28 <= QWEN_7B["max_pixels"], "capped by the processor's own limit"


def test_evaluation_ignores_the_training_pixel_cap_of_an_adapter(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """An adapter saves the trainer's processor (model.max_pixels); scoring uses the base checkpoint's limit."""
    own = AutoImageProcessor.from_pretrained(tiny_model_dir).size["longest_edge"]
    adapter = tmp_path / "adapter"
    from vqr1.model.loading import load_processor

    trained = ModelParams(base=str(tiny_model_dir), min_pixels=784, max_pixels=784 * 2)
    load_processor(tiny_model_dir, trained).save_pretrained(adapter)
    assert AutoImageProcessor.from_pretrained(adapter).size["longest_edge"] == 784 * 2
    native = scoring_processor(adapter, tiny_model_dir, trained, EvaluateParams())
    assert native.image_processor.size["longest_edge"] == own > 784 * 2
    capped = scoring_processor(adapter, tiny_model_dir, trained, EvaluateParams(max_pixels=784 * 3))
    assert capped.image_processor.size == {"shortest_edge": 784, "longest_edge": 784 * 3}


def test_unparsable_answers_are_counted_never_filled() -> None:
    results = [
        ImageScore("a.png", scores=[3.0, None], texts=["<answer>3</answer>", "no number"], visual_tokens=999),
        ImageScore("b.png", scores=[None, None], texts=["?", "?"], visual_tokens=999),
        ImageScore("c.png", scores=[4.5, 4.0], texts=["4.5", "4"], visual_tokens=252),
        ImageScore("d.png", scores=[1.0, 2.0], texts=["1", "2"], visual_tokens=252),
        ImageScore("e.png", error="e.png: not a readable image"),
    ]
    import pandas as pd

    frame = pd.DataFrame({"image": [r.path for r in results], "mos": [3.0, 1.0, 5.0, 2.0, 4.0]})
    preds = predictions_frame(frame, results, samples=2)
    assert np.isnan(preds["mean"][1]) and preds["mean"][0] == 3.0, "b.png has no score, not a random one"
    assert preds["visual_tokens"].tolist()[:4] == [999, 999, 252, 252] and pd.isna(preds["visual_tokens"][4])
    m = dataset_metrics(preds["mean"].to_numpy(dtype=float), preds["mos"].to_numpy(dtype=float), 0, 0)
    assert m["n"] == 3
    assert counts(results) == {
        "n_images": 5,
        "n_unscored": 1,
        "n_errors": 1,
        "parse_failures": 3,
        "out_of_range": 0,
        "out_of_range_rate": 0.0,
        "visual_tokens_mean": pytest.approx((999 * 2 + 252 * 2) / 4),
        "visual_tokens_max": 999,
    }
