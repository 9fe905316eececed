"""The scorer's processor: tokenizer and chat template of the model, pixel limits of scoring.

Why here: the pixel limits decide how many visual tokens an image costs and therefore the answer; in-process
scoring, the vLLM backend and a served model (:mod:`vqr1.inference.serve`) must resize alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vqr1.config import EvaluateParams, ModelParams


def has_processor(folder: str | Path) -> bool:
    """True when ``folder`` holds a saved processor (an adapter saved with one, or a model folder)."""
    return (Path(folder) / "preprocessor_config.json").is_file() or (
        Path(folder) / "processor_config.json"
    ).is_file()


def adapter_rank(adapter: Path) -> int:
    """The LoRA rank of an adapter folder (vLLM must be told the largest rank up front)."""
    return int(json.loads((Path(adapter) / "adapter_config.json").read_text()).get("r", 8))


def pixel_limits(image_processor: Any) -> tuple[int, int]:
    """(min_pixels, max_pixels) an image processor resizes into."""
    return int(image_processor.size["shortest_edge"]), int(image_processor.size["longest_edge"])


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


def scoring_limits(
    model: ModelParams, settings: EvaluateParams, base: str | Path | None = None
) -> tuple[int, int]:
    """(min_pixels, max_pixels) of scoring: ``evaluate.max_pixels`` with the model's minimum, else the
    ``base`` checkpoint's own limits (default ``model.base``), i.e. native resolution as the reference infers."""
    if settings.max_pixels is not None:
        return model.min_pixels, settings.max_pixels
    from transformers import AutoImageProcessor

    return pixel_limits(AutoImageProcessor.from_pretrained(str(base or model.base)))


def scoring_processor(
    source: str | Path, base: str | Path, model: ModelParams, settings: EvaluateParams
) -> Any:
    """The scorer's processor: tokenizer and chat template from ``source`` (an adapter folder or the base),
    pixel limits of :func:`scoring_limits`. An adapter's saved processor carries the training cap
    (model.max_pixels), which must not bound evaluation, hence the base's limits."""
    from vqr1.model.loading import load_processor

    low, high = scoring_limits(model, settings, base)
    return load_processor(source, model.model_copy(update={"min_pixels": low, "max_pixels": high}))
