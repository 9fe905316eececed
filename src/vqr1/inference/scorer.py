"""Scoring images: batched generation of K reasoning completions per image, parsed into scores.

Why this shape: evaluation, the held-out callback's tools, ``vqr1 score``, batch scoring and the Python API
share one :class:`Scorer`, so a score printed for a person is produced exactly like a score that enters SRCC.
The model call sits behind a small backend interface (:mod:`vqr1.inference.backends`: Hugging Face ``generate``,
vLLM, or an OpenAI-compatible server) that returns raw completions; parsing happens once, here, via
:func:`vqr1.parsing.parse_score`. An unparsable answer stays ``None`` (NaN in tables) and is counted, never
replaced. An answer outside the prompt's 1-5 scale is kept as written, counted, and enters the image's mean at
the nearest end of the scale: "100" reads as "the best", so one absurd number cannot outweigh every other image
in PLCC. An image that is missing, cannot be read, is too large (:mod:`vqr1.inference.images`) or that the
processor rejects gets a per-image error, and the other images still score.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vqr1 import layout
from vqr1.config import EvaluateParams, ModelParams, Params
from vqr1.errors import ConfigError, DataError
from vqr1.inference.backends import Backend, HFBackend, VLLMBackend
from vqr1.inference.images import ImageInput, image_name, to_image
from vqr1.inference.processor import has_processor, scoring_processor, visual_tokens
from vqr1.parsing import parse_score
from vqr1.prompts import SCORE_SCALE


@dataclass
class ImageScore:
    """One image's completions and parsed scores (``None`` = unparsable, else as written), or its error."""

    path: str
    scores: list[float | None] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    error: str | None = None
    visual_tokens: int | None = None  # image tokens the model saw (after the processor's resize)
    scale: tuple[float, float] = SCORE_SCALE  # the scale the prompt asks for; the mean clips onto it

    @property
    def parsed(self) -> list[float]:
        return [s for s in self.scores if s is not None]

    @property
    def parse_failures(self) -> int:
        return sum(s is None for s in self.scores)

    @property
    def out_of_range(self) -> int:
        """Parsed scores outside the prompt's scale."""
        lo, hi = self.scale
        return sum(not lo <= s <= hi for s in self.parsed)

    @property
    def on_scale(self) -> list[float]:
        """The parsed scores, each clipped to the scale: what the mean and the metrics use."""
        return [min(max(s, self.scale[0]), self.scale[1]) for s in self.parsed]

    @property
    def mean(self) -> float:
        """Mean of the parsed scores on the scale; NaN when none parsed."""
        return float(np.mean(self.on_scale)) if self.parsed else math.nan

    @property
    def score(self) -> float | None:
        """Mean of the parsed scores on the scale; None when none parsed (or the image failed)."""
        return self.mean if self.parsed else None

    @property
    def std(self) -> float:
        """Sample std (ddof=1) of the parsed scores on the scale; NaN with fewer than two."""
        return float(np.std(self.on_scale, ddof=1)) if len(self.parsed) > 1 else math.nan

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe record (NaN -> None)."""

        def clean(v: float) -> float | None:
            return None if math.isnan(v) else v

        return {
            "path": self.path,
            "mean": clean(self.mean),
            "std": clean(self.std),
            "scores": self.scores,
            "parse_failures": self.parse_failures,
            "out_of_range": self.out_of_range,
            "visual_tokens": self.visual_tokens,
            "reasoning": self.texts,
            "error": self.error,
        }


class Scorer:
    """Scores images in batches of ``settings.batch_size`` with ``settings.samples`` completions each."""

    def __init__(
        self, backend: Backend, settings: EvaluateParams, scale: tuple[float, float] = SCORE_SCALE
    ) -> None:
        self.backend, self.settings, self.scale = backend, settings, scale

    def score(
        self, images: Sequence[ImageInput], short_edge: int | None = None, progress: bool = False
    ) -> list[ImageScore]:
        """One :class:`ImageScore` per image, in order; images that cannot be scored carry ``error`` instead."""
        from tqdm import tqdm

        results: list[ImageScore] = []
        with tqdm(total=len(images), desc="scoring", unit="img", disable=not progress) as bar:
            for batch in self.batches(images, short_edge):
                results.extend(batch)
                bar.update(len(batch))
        return results

    def batches(
        self, images: Sequence[ImageInput], short_edge: int | None = None
    ) -> Iterator[list[ImageScore]]:
        """The results batch by batch, as they are made (batch scoring writes each before the next starts)."""
        items = list(images)
        for start in range(0, len(items), self.settings.batch_size):
            chunk = items[start : start + self.settings.batch_size]
            yield self._score_batch(
                chunk, [image_name(im, start + i) for i, im in enumerate(chunk)], short_edge
            )

    def _score_batch(
        self, images: list[ImageInput], names: list[str], short_edge: int | None
    ) -> list[ImageScore]:
        records = [ImageScore(name, scale=self.scale) for name in names]
        loaded: list[tuple[ImageScore, Image.Image]] = []
        processor = getattr(self.backend, "image_processor", None)
        for record, item in zip(records, images, strict=True):
            try:
                image = to_image(item, short_edge, self.settings.max_decode_pixels)
                if processor is not None:
                    record.visual_tokens = visual_tokens(processor, *image.size)
            except DataError as exc:
                record.error = str(exc)
                continue
            except ValueError as exc:  # the processor's resize rule refuses it (e.g. aspect ratio over 200)
                record.error = f"{record.path}: the processor rejected the image ({exc})"
                continue
            loaded.append((record, image))
        self._generate(loaded)
        return records

    def _generate(self, loaded: list[tuple[ImageScore, Image.Image]]) -> None:
        """Fill completions; if the processor rejects the batch, retry one by one to isolate the bad image."""
        if not loaded:
            return
        try:
            completions = self.backend.generate([img for _, img in loaded], self.settings.samples)
        except ValueError as exc:  # e.g. an aspect ratio the Qwen processor refuses
            if len(loaded) > 1:
                for item in loaded:
                    self._generate([item])
                return
            loaded[0][0].error = f"{loaded[0][0].path}: the processor rejected the image ({exc})"
            return
        for (record, _), texts in zip(loaded, completions, strict=True):
            record.texts = list(texts)
            record.scores = [parse_score(t) for t in texts]


def resolve_weights(root: Path, params: Params, adapter: str | None) -> tuple[Path | None, Path | None]:
    """(adapter folder, full-weights folder) to evaluate, from the train stage's outputs under ``root``.

    ``adapter``: None = the run's own output (models/<run>/adapter, or models/<run>/model when
    train.tuning=full), ``"none"`` = the base model alone (only when asked: a missing adapter must
    not silently turn into a base-model evaluation), or a path to an adapter folder.
    """
    if adapter == "none":
        return None, None
    if adapter:
        return Path(adapter), None
    weights = layout.weights_dir(root, params.train)
    if params.train.tuning == "full":
        if not (weights / "config.json").is_file():
            raise ConfigError(f"{weights}: no trained weights; run the train stage first")
        return None, weights
    if not (weights / "adapter_config.json").is_file():
        raise ConfigError(
            f"{weights}: no adapter; run the train stage, or pass --adapter none "
            "to evaluate the base model alone"
        )
    return weights, None


def build_scorer(
    params: Params,
    adapter: Path | None = None,
    weights: Path | None = None,
    settings: EvaluateParams | None = None,
) -> Scorer:
    """A Scorer for base model (or ``weights``: merged/full weights) + optional adapter, backend from params."""
    model_params = params.model if weights is None else params.model.model_copy(update={"base": str(weights)})
    return make_scorer(model_params, adapter, settings or params.evaluate, params.seed, params.model.base)


def make_scorer(
    model: ModelParams,
    adapter: Path | None,
    settings: EvaluateParams,
    seed: int,
    limits_base: str | Path | None = None,
    device: str | None = None,
    scale: tuple[float, float] = SCORE_SCALE,
) -> Scorer:
    """A Scorer for ``model.base`` + optional adapter on ``settings.backend`` (hf or vllm).

    ``limits_base``: the checkpoint whose own pixel limits apply when ``settings.max_pixels`` is None
    (default: ``model.base``)."""
    limits_base = limits_base or model.base
    if settings.backend == "vllm":
        return Scorer(VLLMBackend(model, adapter, settings, seed, str(limits_base)), settings, scale)
    from transformers import set_seed

    from vqr1.model.loading import load_model

    set_seed(seed)
    source = adapter if adapter is not None and has_processor(adapter) else model.base
    processor = scoring_processor(source, limits_base, model, settings)
    net = load_model(model, adapter=adapter, device=device)
    return Scorer(HFBackend(net, processor, settings), settings, scale)
