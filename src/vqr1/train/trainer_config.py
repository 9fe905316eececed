"""params -> TRL's GRPOConfig and PEFT's LoraConfig.

``train.grpo`` is passed to ``trl.GRPOConfig`` as written, so every TRL option is a params key without
a code change, and TRL's own checks apply. vqr1 adds only what follows from its own fields or from how
the trainer is wired (:data:`vqr1.config.GRPO_MANAGED_KEYS`), plus machine-dependent defaults that
params may override (bf16 and use_cpu from CUDA, seed and data_seed from the top-level seed).
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

import torch

from vqr1.config import Params, TrainParams
from vqr1.errors import ConfigError


def grpo_config(params: Params, output_dir: Path, **extra: Any) -> Any:
    """``trl.GRPOConfig`` of ``train.grpo``; ``extra`` sets further fields (the GPU benchmark's generation_kwargs).

    An option TRL does not know, or a value it refuses, is a ConfigError naming ``train.grpo.<key>``.
    """
    from trl import GRPOConfig

    fields = {f.name: f for f in dataclasses.fields(GRPOConfig) if f.init}
    options = {**params.train.grpo, **extra}
    for key in options:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"train.grpo.{key}: not an option of trl.GRPOConfig{hint}")
    k = options.get("num_generations", fields["num_generations"].default)
    cuda = torch.cuda.is_available()
    defaults = {"bf16": cuda, "use_cpu": not cuda, "seed": params.seed, "data_seed": params.seed}
    managed = {
        "output_dir": str(output_dir),
        "per_device_train_batch_size": params.train.images_per_batch * k,  # completions: B images x K
        "report_to": "none",  # dvclive is attached as a callback with its own Live (vqr1.train.grpo)
        "remove_unused_columns": False,  # the rewards read the mos, image_id and dataset columns
    }
    try:
        return GRPOConfig(**{**defaults, **options, **managed})
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"train.grpo: TRL refused the configuration: {exc}") from exc


def peft_config(train: TrainParams) -> Any | None:
    """LoRA on the language model's ``target_modules`` (vision tower frozen); with ``lora_vision`` also on the
    vision blocks' ``vision_target_modules``; None for full fine-tuning."""
    if train.tuning == "full":
        return None
    from peft import LoraConfig

    text = "|".join(train.lora.target_modules)
    pattern = rf".*language_model\..*\.({text})"
    if train.tuning == "lora_vision":
        pattern += rf"|.*visual\.blocks\..*\.({'|'.join(train.lora.vision_target_modules)})"
    return LoraConfig(
        r=train.lora.r,
        lora_alpha=train.lora.alpha,
        lora_dropout=train.lora.dropout,
        target_modules=pattern,
        task_type="CAUSAL_LM",
    )
