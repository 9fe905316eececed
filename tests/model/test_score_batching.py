"""Left-padded batches give the same completions as one image at a time (greedy), and K samples stay grouped."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
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


NEAR_TIE = 1e-4  # logits closer than this may swap places between two kernels' summation orders


def test_batched_greedy_equals_one_by_one(
    tiny_model_dir: Path, sized_images: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A left-padded batch computes what one image at a time does: at every greedy step, the same logits
    (to float tolerance) and the same token. Padding sums in another order, so a step whose two best
    logits tie within rounding may pick either; the check stops there instead of failing on it (a wrong
    padding side or mask moves the logits by far more than rounding)."""
    params = _params(tiny_model_dir, temperature=0.0, batch_size=1)
    single = build_scorer(params)
    enc = single.backend.processor(
        text=[single.backend.prompt] * 2,
        images=[load_image(sized_images[0]), load_image(sized_images[-1])],
        padding=True,
        return_tensors="pt",
    )
    assert enc["attention_mask"].sum(dim=1).unique().numel() == 2, "the batch must actually be padded"
    model = single.backend.model
    real_generate = model.generate
    steps: list[tuple[torch.Tensor, torch.Tensor]] = []  # per call: (new tokens, logits) per row

    def generate_keeping_logits(**kwargs: object) -> torch.Tensor:
        out = real_generate(**kwargs, output_logits=True, return_dict_in_generate=True)
        prompt_len = kwargs["input_ids"].shape[1]  # type: ignore[union-attr]
        steps.append((out.sequences[:, prompt_len:], torch.stack(out.logits, dim=1)))
        return out.sequences

    monkeypatch.setattr(model, "generate", generate_keeping_logits)
    one_by_one = [r.texts for r in single.score(sized_images)]
    alone = steps[:]
    batched = Scorer(single.backend, params.evaluate.model_copy(update={"batch_size": len(sized_images)}))
    together = [r.texts for r in batched.score(sized_images)]
    assert all(len(t) == 1 and t[0] for t in one_by_one) and len(together) == len(one_by_one)
    (tokens, logits), *_ = steps[len(alone) :]
    for row, (own_tokens, own_logits) in enumerate(alone):
        for step in range(own_tokens.shape[1]):
            assert torch.allclose(logits[row, step], own_logits[0, step], atol=1e-4), (row, step)
            if tokens[row, step] != own_tokens[0, step]:
                top2 = own_logits[0, step].topk(2).values
                assert top2[0] - top2[1] < NEAR_TIE, (row, step, "a token changed without a tie")
                break
        else:
            assert together[row] == one_by_one[row]


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
