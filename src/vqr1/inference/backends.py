"""Backends: a batch of images in, ``samples`` raw completions per image out (contiguous per image).

Why an interface: the scorer, the parser and the Thurstone comparison are the same whether the completions
come from Hugging Face ``generate`` in this process (:class:`HFBackend`, CPU or GPU), from vLLM's offline
engine (:class:`VLLMBackend`, GPU extra) or from an OpenAI-compatible server
(:class:`vqr1.inference.remote.RemoteBackend`). Every backend builds its prompt from
:func:`vqr1.prompts.conversation` with the model's own chat template.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from vqr1.config import EvaluateParams, ModelParams
from vqr1.errors import ConfigError
from vqr1.inference.processor import adapter_rank, has_processor, scoring_processor
from vqr1.prompts import conversation


class Backend(Protocol):
    """Turns a batch of images into ``samples`` raw completions per image (contiguous per image)."""

    image_processor: Any  # the processor that sizes the images (its pixel limits decide the visual tokens)

    def generate(self, images: list[Image.Image], samples: int) -> list[list[str]]: ...

    def with_settings(self, settings: EvaluateParams) -> Backend:
        """The same model with other sampling settings or prompt variant (per-call overrides)."""
        ...


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

    def with_settings(self, settings: EvaluateParams) -> HFBackend:
        return HFBackend(self.model, self.processor, settings)


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
        source = adapter if adapter and has_processor(adapter) else model.base
        processor = scoring_processor(source, limits_base or model.base, model, settings)
        self.processor, self.image_processor = processor, processor.image_processor
        self.prompt = processor.apply_chat_template(
            conversation(settings.thinking), add_generation_prompt=True
        )
        lora_rank = adapter_rank(adapter) if adapter else 0
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

    def with_settings(self, settings: EvaluateParams) -> VLLMBackend:
        other = copy.copy(self)  # the engine is shared: only the sampling settings and the prompt differ
        other.settings = settings
        other.prompt = self.processor.apply_chat_template(
            conversation(settings.thinking), add_generation_prompt=True
        )
        return other
