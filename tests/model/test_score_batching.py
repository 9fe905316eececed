"""Left-padded batches give the same completions as one image at a time (greedy), and K samples stay grouped."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.model.helpers import tiny_model_params
from vqr1.config import Params
from vqr1.inference.images import load_image
from vqr1.inference.scorer import Scorer, build_scorer


@pytest.fixture(scope="module")
def sized_images(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Images of different sizes, so their prompts differ in length and the batch needs padding."""
    folder = tmp_path_factory.mktemp("sized")
    sources = sorted((synth_root / "kadid10k" / "images").glob("*.png"))[:4]
    out = []
    for i, src in enumerate(sources):
        path = folder / f"{i}.png"
        Image.open(src).resize((128 - 24 * i, 96 - 12 * i)).save(path)
        out.append(path)
    return out


def _params(model_dir: Path, **evaluate: object) -> Params:
    return Params.model_validate(tiny_model_params(model_dir, evaluate={"max_new_tokens": 12, **evaluate}))


def test_batched_greedy_equals_one_by_one(tiny_model_dir: Path, sized_images: list[Path]) -> None:
    params = _params(tiny_model_dir, temperature=0.0, batch_size=1)
    single = build_scorer(params)
    enc = single.backend.processor(
        text=[single.backend.prompt] * 2,
        images=[load_image(sized_images[0]), load_image(sized_images[-1])],
        padding=True,
        return_tensors="pt",
    )
    assert enc["attention_mask"].sum(dim=1).unique().numel() == 2, "the batch must actually be padded"
    batched = Scorer(single.backend, params.evaluate.model_copy(update={"batch_size": len(sized_images)}))
    one_by_one = [r.texts for r in single.score(sized_images)]
    assert [r.texts for r in batched.score(sized_images)] == one_by_one
    assert all(len(t) == 1 and t[0] for t in one_by_one)


def test_samples_are_grouped_per_image(warm_model_dir: Path, sized_images: list[Path]) -> None:
    scorer = build_scorer(
        _params(warm_model_dir, temperature=1.0, samples=3, batch_size=4, max_new_tokens=24)
    )
    results = scorer.score(sized_images)
    assert [r.path for r in results] == [str(p) for p in sized_images]
    assert all(len(r.texts) == len(r.scores) == 3 for r in results)


def test_short_edge_downscales_only(synth_root: Path) -> None:
    src = sorted((synth_root / "kadid10k" / "images").glob("*.png"))[0]
    width, height = Image.open(src).size
    small = load_image(src, short_edge=min(width, height) // 2)
    assert min(small.size) == min(width, height) // 2
    assert small.size[0] / small.size[1] == pytest.approx(width / height, rel=0.02)
    assert load_image(src, short_edge=10 * max(width, height)).size == (width, height)


def test_vllm_backend_without_vllm_is_a_clear_error(tiny_model_dir: Path) -> None:
    import importlib.util

    from vqr1.errors import ConfigError

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    with pytest.raises(ConfigError, match="vllm is not installed"):
        build_scorer(_params(tiny_model_dir, backend="vllm"))
