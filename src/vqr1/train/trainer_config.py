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


def batch_layout(train: TrainParams, num_processes: int, num_generations: int) -> tuple[int, int]:
    """(per_device_train_batch_size, gradient_accumulation_steps) for ``num_processes`` processes: one ranking
    group of ``images_per_group`` images x K completions per device micro-batch, and as many accumulation
    steps as make ``images_per_update`` images per optimizer update (the paper: 128 = 16 GPUs x 8)."""
    per_step = train.images_per_group * num_processes
    if train.images_per_update % per_step:
        raise ConfigError(
            f"train.images_per_update={train.images_per_update} is not a whole number of steps of "
            f"{num_processes} process(es) x train.images_per_group={train.images_per_group} images"
        )
    return train.images_per_group * num_generations, train.images_per_update // per_step


def run_state() -> Any:
    """accelerate's state of this run (1 process unless started by ``accelerate launch``). A CPU-only machine
    opens it with cpu=True, as the Trainer does: launched CPU processes then join by gloo instead of each
    training alone."""
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def grpo_config(params: Params, output_dir: Path, num_processes: int | None = None, **extra: Any) -> Any:
    """``trl.GRPOConfig`` of ``train.grpo`` on ``num_processes`` processes (default: this run's); ``extra`` sets
    further fields (the GPU benchmark's generation_kwargs).

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
    per_device, accumulation = batch_layout(params.train, num_processes or run_state().num_processes, k)
    managed = {
        "output_dir": str(output_dir),
        "per_device_train_batch_size": per_device,  # completions: one ranking group x K
        "gradient_accumulation_steps": accumulation,
        "report_to": "none",  # dvclive is attached as a callback with its own Live (vqr1.train.live)
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
