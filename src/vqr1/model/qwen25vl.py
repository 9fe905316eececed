"""A Qwen2.5-VL config of any tower shape, wired to a tokenizer's chat and vision special tokens.

Used by the tiny test model (:mod:`vqr1.model.tiny`) and by the 7B-shaped GPU benchmark
(scripts/bench_grpo_gpu.py), so both wire the special tokens and generation stops the same way.
"""

from __future__ import annotations

from typing import Any


def qwen25vl_config(tokenizer: Any, text: dict, vision: dict) -> Any:
    """A Qwen2.5-VL config of the given tower shapes whose special-token ids match ``tokenizer``.

    ``text`` may set ``vocab_size`` (the benchmark uses the 7B one); otherwise it is the tokenizer's size.
    """
    from transformers import Qwen2_5_VLConfig

    ids = tokenizer.convert_tokens_to_ids
    text = {
        "vocab_size": len(tokenizer),
        **text,
        "bos_token_id": ids("<|endoftext|>"),
        "eos_token_id": ids("<|im_end|>"),
        "pad_token_id": ids("<|endoftext|>"),
    }
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )


def set_generation_tokens(model: Any) -> None:
    """Generation stops at ``<|im_end|>`` and pads with ``<|endoftext|>``, as the config says."""
    model.generation_config.eos_token_id = model.config.text_config.eos_token_id
    model.generation_config.pad_token_id = model.config.text_config.pad_token_id
