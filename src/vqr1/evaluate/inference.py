"""Scoring images: batched generation of K reasoning completions per image, parsed into scores.

Why this shape: evaluation and the `vqr1 score` command share one :class:`Scorer`, so a score
printed for a person is produced exactly like a score that enters SRCC. The model call sits behind
a small backend interface (Hugging Face ``generate`` by default, vLLM on a GPU) that returns raw
completions; parsing happens once, here, via :func:`vqr1.parsing.parse_score`. An unparsable answer
stays ``None`` (NaN in tables) and is counted, never replaced. An answer outside the prompt's 1-5 scale
is kept as written, counted, and enters the image's mean at the nearest end of the scale: "100" reads as
"the best", so one absurd number cannot outweigh every other image in PLCC. A file that is missing, cannot
be read, is larger than ``evaluate.max_decode_pixels`` (checked on the header, before decoding) or that the
processor rejects gets a per-file error, and the other images still score. Every image mode becomes 8-bit
RGB with its own scaling (:func:`to_rgb`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image, UnidentifiedImageError

from vqr1 import layout
from vqr1.config import MAX_DECODE_PIXELS, EvaluateParams, ModelParams, Params
from vqr1.errors import ConfigError, DataError
from vqr1.parsing import parse_score
from vqr1.prompts import SCORE_SCALE, conversation


@dataclass
class ImageScore:
    """One image's completions and parsed scores (``None`` = unparsable, else as written), or its error."""

    path: str
    scores: list[float | None] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    error: str | None = None
    visual_tokens: int | None = None  # image tokens the model saw (after the processor's resize)

    @property
    def parsed(self) -> list[float]:
        return [s for s in self.scores if s is not None]

    @property
    def parse_failures(self) -> int:
        return sum(s is None for s in self.scores)

    @property
    def out_of_range(self) -> int:
        """Parsed scores outside the prompt's scale (SCORE_SCALE)."""
        lo, hi = SCORE_SCALE
        return sum(not lo <= s <= hi for s in self.parsed)

    @property
    def on_scale(self) -> list[float]:
        """The parsed scores, each clipped to the scale: what the mean and the metrics use."""
        return [min(max(s, SCORE_SCALE[0]), SCORE_SCALE[1]) for s in self.parsed]

    @property
    def mean(self) -> float:
        """Mean of the parsed scores on the scale; NaN when none parsed."""
        return float(np.mean(self.on_scale)) if self.parsed else math.nan

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


class Backend(Protocol):
    """Turns a batch of images into ``samples`` raw completions per image (contiguous per image)."""

    image_processor: Any  # the processor that sizes the images (its pixel limits decide the visual tokens)

    def generate(self, images: list[Image.Image], samples: int) -> list[list[str]]: ...


def visual_tokens(image_processor: Any, width: int, height: int) -> int:
    """Visual tokens Qwen2.5-VL spends on a ``width`` x ``height`` image under the processor's pixel limits.

    The processor's own resize rule (transformers' ``smart_resize``): sides rounded to multiples of
    patch x merge (28), the area kept inside [shortest_edge, longest_edge]; one token per merged 28x28
    block. KonIQ's 1024x768 at the native limit becomes 1036x756: 37 x 27 = 999 tokens.
    """
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    patch, merge = image_processor.patch_size, image_processor.merge_size
    h, w = smart_resize(
        height,
        width,
        factor=patch * merge,
        min_pixels=image_processor.size["shortest_edge"],
        max_pixels=image_processor.size["longest_edge"],
    )
    return (h // (patch * merge)) * (w // (patch * merge))


# Modes whose values PIL's convert("RGB") would clip at 255 instead of scaling: 16-bit grey (Pillow opens
# 16-bit PNG/TIFF as I;16*, and its 32-bit "I" holds such data too) and float grey, taken as [0, 1].
_WIDE_MODES = {"I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I;16N": 65535, "I": 65535, "F": 1}


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any PIL mode, each scaled by its own range.

    16-bit grey maps 0-65535 onto 0-255 (``convert`` clipped it: a 16-bit PNG came out 99.5% white) and
    float grey maps 0-1 onto 0-255; alpha is dropped, as the reference's loaders do (``convert("RGB")``);
    palette, CMYK, YCbCr, LAB and 1-bit images go through PIL's own converters.
    """
    top = _WIDE_MODES.get(img.mode)
    if top is not None:
        values = np.clip(np.asarray(img, dtype=np.float32) * (255.0 / top), 0, 255)
        return Image.fromarray(np.rint(values).astype(np.uint8), "L").convert("RGB")
    if img.mode in ("La", "RGBa"):  # premultiplied alpha: PIL converts these only via their plain form
        img = img.convert("LA" if img.mode == "La" else "RGBA")
    return img.convert("RGB")


def load_image(
    path: Path, short_edge: int | None = None, max_decode_pixels: int = MAX_DECODE_PIXELS
) -> Image.Image:
    """An 8-bit RGB image, fully decoded now (so a truncated file fails here, with its name), optionally
    downscaled; a missing file, or one over ``max_decode_pixels`` (read from its header), is a DataError.

    ``short_edge`` downscales so the shorter side is that many pixels (SPAQ: 768); smaller images are
    left as they are, since upscaling adds no information.
    """
    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():  # PIL warns on opening a large file; the bound below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            width, height = img.size
            if width * height > max_decode_pixels:
                raise DataError(
                    f"{path}: {width}x{height} = {width * height:,} pixels, more than "
                    f"evaluate.max_decode_pixels ({max_decode_pixels:,}); refused before decoding"
                )
            img.load()
            rgb = to_rgb(img)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from exc
    if short_edge and min(rgb.size) > short_edge:
        scale = short_edge / min(rgb.size)
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BICUBIC)
    return rgb


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders as their image files (recursive, sorted). A path that does not exist stays
    in the list: the scorer reports it as that file's error, like any other bad file."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out.extend(
                sorted(
                    p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in layout.IMAGE_SUFFIXES
                )
            )
        else:
            out.append(path)
    return out


def generation_kwargs(settings: EvaluateParams) -> dict[str, Any]:
    """HF ``generate`` sampling arguments from params: greedy when temperature is 0."""
    if settings.temperature == 0:
        return {"do_sample": False, "max_new_tokens": settings.max_new_tokens}
    return {
        "do_sample": True,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "top_k": settings.top_k,
        "max_new_tokens": settings.max_new_tokens,
    }


def sample_completions(
    model: Any,
    processor: Any,
    prompts: Sequence[str],
    images: list[Image.Image],
    samples: int,
    **sampling: Any,
) -> list[list[str]]:
    """``samples`` completions for each (prompt, image) pair, as one left-padded batched ``generate``.

    Left padding because every prompt must end where generation starts (decoder-only batching); the
    tokenizer's own padding side is restored afterwards, so a training processor (right-padded for the
    loss) can be lent to it. ``sampling``: ``generate`` keywords (do_sample, temperature, max_new_tokens...).
    """
    import torch

    tokenizer = processor.tokenizer
    padding_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    try:
        enc = processor(text=list(prompts), images=images, return_tensors="pt", padding=True).to(model.device)
    finally:
        tokenizer.padding_side = padding_side
    with torch.inference_mode():
        out = model.generate(**enc, num_return_sequences=samples, **sampling)
    texts = processor.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    return [texts[i * samples : (i + 1) * samples] for i in range(len(images))]


class HFBackend:
    """Hugging Face ``generate`` (:func:`sample_completions`): K samples per image, on the CPU or a GPU."""

    def __init__(self, model: Any, processor: Any, settings: EvaluateParams) -> None:
        self.model, self.processor, self.settings = model, processor, settings
        self.image_processor = processor.image_processor
        self.prompt = processor.apply_chat_template(
            conversation(settings.thinking), add_generation_prompt=True
        )

    def generate(self, images: list[Image.Image], samples: int) -> list[list[str]]:
        return sample_completions(
            self.model,
            self.processor,
            [self.prompt] * len(images),
            images,
            samples,
            **generation_kwargs(self.settings),
        )


class VLLMBackend:
    """vLLM offline inference (GPU extra): same prompt, sampling settings and output format as :class:`HFBackend`."""

    def __init__(
        self,
        model: ModelParams,
        adapter: Path | None,
        settings: EvaluateParams,
        seed: int,
        limits_base: str | None = None,
    ) -> None:
        try:
            from vllm import LLM, SamplingParams
            from vllm.lora.request import LoRARequest
        except ImportError as exc:
            raise ConfigError(
                "evaluate.backend=vllm but vllm is not installed (GPU extra: pip install -e '.[gpu]')"
            ) from exc
        self.settings = settings
        source = adapter if adapter and _has_processor(adapter) else model.base
        processor = scoring_processor(source, limits_base or model.base, model, settings)
        self.image_processor = processor.image_processor
        self.prompt = processor.apply_chat_template(
            conversation(settings.thinking), add_generation_prompt=True
        )
        lora_rank = _adapter_rank(adapter) if adapter else 0
        size = self.image_processor.size  # the same limits as the HF path: same resize, same tokens
        self.llm = LLM(
            model=model.base,
            dtype=model.torch_dtype,
            seed=seed,
            limit_mm_per_prompt={"image": 1},
            mm_processor_kwargs={"min_pixels": size["shortest_edge"], "max_pixels": size["longest_edge"]},
            enable_lora=adapter is not None,
            max_lora_rank=max(lora_rank, 8),
        )
        self.lora = LoRARequest("adapter", 1, str(adapter)) if adapter else None
        self.sampling_params, self.seed = SamplingParams, seed

    def generate(self, images: list[Image.Image], samples: int) -> list[list[str]]:
        s = self.settings
        sampling = self.sampling_params(
            n=samples,
            temperature=s.temperature,
            top_p=s.top_p,
            top_k=s.top_k if s.temperature > 0 else -1,
            max_tokens=s.max_new_tokens,
            seed=self.seed,
        )
        requests = [{"prompt": self.prompt, "multi_modal_data": {"image": img}} for img in images]
        outputs = self.llm.generate(requests, sampling, lora_request=self.lora, use_tqdm=False)
        return [[c.text for c in out.outputs] for out in outputs]


def _has_processor(folder: Path) -> bool:
    return (Path(folder) / "preprocessor_config.json").is_file() or (
        Path(folder) / "processor_config.json"
    ).is_file()


def _adapter_rank(adapter: Path) -> int:
    import json

    return int(json.loads((Path(adapter) / "adapter_config.json").read_text()).get("r", 8))


class Scorer:
    """Scores images in batches of ``settings.batch_size`` with ``settings.samples`` completions each."""

    def __init__(self, backend: Backend, settings: EvaluateParams) -> None:
        self.backend, self.settings = backend, settings

    def score(
        self, paths: Sequence[Path], short_edge: int | None = None, progress: bool = False
    ) -> list[ImageScore]:
        """One :class:`ImageScore` per path, in order; unreadable files carry ``error`` instead of scores."""
        from tqdm import tqdm

        results: list[ImageScore] = []
        with tqdm(total=len(paths), desc="scoring", unit="img", disable=not progress) as bar:
            for batch in _chunks(list(paths), self.settings.batch_size):
                results.extend(self._score_batch(batch, short_edge))
                bar.update(len(batch))
        return results

    def _score_batch(self, paths: list[Path], short_edge: int | None) -> list[ImageScore]:
        records = [ImageScore(str(p)) for p in paths]
        loaded: list[tuple[ImageScore, Image.Image]] = []
        for record, path in zip(records, paths, strict=True):
            try:
                image = load_image(path, short_edge, self.settings.max_decode_pixels)
                record.visual_tokens = visual_tokens(self.backend.image_processor, *image.size)
            except DataError as exc:
                record.error = str(exc)
                continue
            except ValueError as exc:  # the processor's resize rule refuses it (e.g. aspect ratio over 200)
                record.error = f"{path}: the processor rejected the image ({exc})"
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


def _chunks(items: list[Path], size: int) -> Iterator[list[Path]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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


def scoring_processor(
    source: str | Path, base: str | Path, model: ModelParams, settings: EvaluateParams
) -> Any:
    """The scorer's processor: tokenizer and chat template from ``source`` (an adapter folder or the base).

    Pixel limits: ``evaluate.max_pixels`` (with the model's minimum), else the ``base`` checkpoint's own
    limits, i.e. native resolution as the reference infers. An adapter's saved processor carries the
    training cap (model.max_pixels), which must not bound evaluation, hence the base's limits.
    """
    from transformers import AutoImageProcessor

    from vqr1.model.loading import load_processor

    if settings.max_pixels is not None:
        return load_processor(source, model.model_copy(update={"max_pixels": settings.max_pixels}))
    processor = load_processor(source, None)
    own = AutoImageProcessor.from_pretrained(str(base)).size
    processor.image_processor.size = {
        "shortest_edge": own["shortest_edge"],
        "longest_edge": own["longest_edge"],
    }
    return processor


def build_scorer(
    params: Params,
    adapter: Path | None = None,
    weights: Path | None = None,
    settings: EvaluateParams | None = None,
) -> Scorer:
    """A Scorer for base model (or ``weights``: merged/full weights) + optional adapter, backend from params."""
    settings = settings or params.evaluate
    model_params = params.model if weights is None else params.model.model_copy(update={"base": str(weights)})
    if settings.backend == "vllm":
        return Scorer(VLLMBackend(model_params, adapter, settings, params.seed, params.model.base), settings)
    from transformers import set_seed

    from vqr1.model.loading import load_model

    set_seed(params.seed)
    source = adapter if adapter is not None and _has_processor(adapter) else model_params.base
    processor = scoring_processor(source, params.model.base, model_params, settings)
    model = load_model(model_params, adapter=adapter)
    return Scorer(HFBackend(model, processor, settings), settings)
