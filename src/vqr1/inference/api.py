"""The Python API: ``vqr1.load(source)`` gives a :class:`Model` that scores, compares and ranks images, and
is callable as the reward of an RL loop.

Why a thin layer: everything it does is the scorer's (:mod:`vqr1.inference.scorer`) with the model's own
settings (:mod:`vqr1.inference.settings`), so a score from the API equals the evaluate stage's and the CLI's.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from vqr1.errors import ConfigError
from vqr1.inference import thurstone
from vqr1.inference.images import ImageInput, split_inputs
from vqr1.inference.remote import DEFAULT_CONCURRENCY, RemoteBackend, is_url
from vqr1.inference.scorer import ImageScore, Scorer, make_scorer
from vqr1.inference.settings import REFERENCE, ScoringSettings
from vqr1.inference.sources import resolve

BACKENDS = ("hf", "vllm", "remote")
COMPARE_SAMPLES = 6  # the paper's K: compare and rank sample this many scores per image unless told


def load(
    source: str | Path,
    *,
    adapter: str | Path | None = None,
    backend: str | None = None,
    device: str | None = None,
    seed: int = 42,
    concurrency: int = DEFAULT_CONCURRENCY,
    **overrides: Any,
) -> Model:
    """A scorer for ``source``: a model folder (with ``adapter=`` a LoRA folder), a Hugging Face repo id,
    ``"champion"`` or an ``http(s)://HOST:PORT/v1`` server. ``backend``: ``hf`` (default), ``vllm`` (GPU) or
    ``remote`` (implied by a URL). ``overrides``: any scoring setting (``thinking``, ``temperature``,
    ``samples``, ``max_new_tokens``, ``max_pixels``...) over the model's saved ones."""
    if backend is not None and backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if is_url(str(source)) or backend == "remote":
        if not is_url(str(source)):
            raise ConfigError(f"backend=remote needs an http(s)://HOST:PORT/v1 URL, got {source!r}")
        if adapter is not None:
            raise ConfigError("a server serves one model: serve the adapter merged (`vqr1 train merge`)")
        settings = REFERENCE.override(**{"batch_size": concurrency, **overrides})
        remote = RemoteBackend(str(source), settings.evaluate_params(), seed, concurrency)
        return Model(Scorer(remote, settings.evaluate_params(), settings.scale), settings, str(source))
    found = resolve(source, adapter)
    settings = found.settings.override(**overrides)
    scorer = make_scorer(
        settings.model_params(found.weights),
        found.adapter,
        settings.evaluate_params(backend or "hf"),
        seed,
        device=device,
        scale=settings.scale,
    )
    return Model(scorer, settings, str(source))


class Model:
    """A loaded quality model. Results are :class:`~vqr1.inference.scorer.ImageScore`: ``.score`` (mean of
    the parsed scores on the scale, None when none parsed), ``.std``, ``.scores``, ``.texts``, ``.error``."""

    def __init__(self, scorer: Scorer, settings: ScoringSettings, source: str) -> None:
        self.scorer, self.settings, self.source = scorer, settings, source

    def __repr__(self) -> str:
        return f"vqr1.Model({self.source!r})"

    def _scorer(self, **overrides: Any) -> Scorer:
        """The scorer with per-call overrides (same model; only sampling or prompt differ)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return self.scorer
        if {"min_pixels", "max_pixels"} & given.keys():
            raise ConfigError("pixel limits are fixed when the model loads: pass them to vqr1.load")
        settings = self.settings.override(**given)
        backend_name = self.scorer.settings.backend
        params = settings.evaluate_params(backend_name)
        return Scorer(self.scorer.backend.with_settings(params), params, settings.scale)

    def score(
        self,
        images: ImageInput | list[ImageInput],
        *,
        samples: int | None = None,
        temperature: float | None = None,
        progress: bool = False,
        **overrides: Any,
    ) -> list[ImageScore]:
        """One result per image, in order; an image that cannot be scored carries ``.error``, the rest score."""
        scorer = self._scorer(samples=samples, temperature=temperature, **overrides)
        return scorer.score(split_inputs(images), progress=progress)

    def _sampled(self, images: list[ImageInput], samples: int | None) -> list[ImageScore]:
        """K sampled scores per image for the Thurstone model (K = ``samples``, else the model's own when
        above 1, else the paper's 6; greedy settings sample at temperature 1)."""
        k = samples or (self.settings.samples if self.settings.samples > 1 else COMPARE_SAMPLES)
        temperature = self.settings.temperature if self.settings.temperature > 0 or k == 1 else 1.0
        return self.score(images, samples=k, temperature=temperature)

    def compare(self, a: ImageInput, b: ImageInput, *, samples: int | None = None) -> float:
        """P(a better than b): the paper's Thurstone model on the sampled scores (:mod:`thurstone`);
        NaN when either image got no score."""
        first, second = self._sampled([a, b], samples)
        return thurstone.probability(first.on_scale, second.on_scale)

    def rank(self, images: list[ImageInput], *, samples: int | None = None) -> list[int]:
        """Indices of ``images``, best first (by mean sampled score, which orders the Thurstone preferences);
        images without a score come last."""
        results = self._sampled(split_inputs(images), samples)
        return thurstone.ranking([r.score for r in results])

    def __call__(
        self, images: ImageInput | list[ImageInput], missing: float = math.nan, **overrides: Any
    ) -> Any:
        """A float32 tensor (B,) of mean scores, one per image (``missing`` where none parsed), for an RL loop."""
        import torch

        results = self.score(images, **overrides)
        return torch.tensor([missing if r.score is None else r.score for r in results], dtype=torch.float32)
