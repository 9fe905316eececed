"""Loading the policy: base Qwen2.5-VL (hub id or local folder) + optional LoRA adapter, processor with pixel limits.

Training and evaluation both load through here so that pixel limits, dtype and padding side are
set the same way everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vqr1.config import ModelParams
from vqr1.errors import ConfigError


def resolve_dtype(name: str) -> torch.dtype | str:
    """params dtype name -> torch dtype; bf16/fp16 fall back to float32 on a CPU-only machine."""
    if name == "auto":
        return "auto"
    dtype = getattr(torch, name)
    if dtype in (torch.bfloat16, torch.float16) and not torch.cuda.is_available():
        return torch.float32
    return dtype


def load_processor(source: str | Path, model: ModelParams | None, padding_side: str = "left") -> Any:
    """AutoProcessor with min/max pixels from ``model`` params, or its own saved limits when ``model`` is None.

    Training bounds prompts by pixels (TRL 1.x has no max_prompt_length); evaluation keeps the
    processor's own limits unless evaluate.max_pixels is set, so images are scored at native resolution.
    """
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(str(source))
    ip = processor.image_processor
    if model is not None:
        ip.size = {"shortest_edge": model.min_pixels, "longest_edge": model.max_pixels}
    # transformers 5 reads the pixel bounds from `size`; min_pixels/max_pixels attributes would be passed
    # on every call as deprecated kwargs, so they are cleared.
    for attr in ("min_pixels", "max_pixels"):
        if getattr(ip, attr, None) is not None:
            setattr(ip, attr, None)
    processor.tokenizer.padding_side = padding_side
    return processor


def load_base(model: ModelParams) -> Any:
    """The base model of ``model.base`` (hub id or folder) with the dtype and attention from params."""
    from transformers import AutoModelForImageTextToText

    try:
        return AutoModelForImageTextToText.from_pretrained(
            model.base, dtype=resolve_dtype(model.torch_dtype), attn_implementation=model.attn_implementation
        )
    except OSError as exc:
        raise ConfigError(f"model.base={model.base!r}: cannot load the base model ({exc})") from exc


def load_model(model: ModelParams, adapter: Path | None = None, device: str | None = None) -> Any:
    """The base model (optionally with a LoRA adapter merged in for inference), in eval mode."""
    net = load_base(model)
    if adapter is not None:
        from peft import PeftModel

        if not (Path(adapter) / "adapter_config.json").is_file():
            raise ConfigError(f"{adapter}: not a PEFT adapter folder (no adapter_config.json)")
        net = PeftModel.from_pretrained(net, str(adapter)).merge_and_unload()
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return net.to(device).eval()
