"""GRPO with LoRA on Qwen2.5-VL: a thin layer over TRL's GRPOTrainer and PEFT, configured from params.

What lives here and why:

- :func:`vqr1.train.trainer_config.grpo_config` passes params' ``train.grpo`` to TRL's GRPOConfig
  (params.yaml sets the paper recipe explicitly: TRL 1.x defaults differ, beta 0, loss "dapo", top_k 0).
- :class:`GroupedGRPOTrainer` is GRPOTrainer with two overrides: the train sampler serves ranking
  groups of ONE dataset (:mod:`vqr1.train.sampler`), and each completion is labelled with its group so
  the reward ranks within it. Nothing else is forked.
- :func:`vqr1.train.trainer_config.peft_config`: LoRA on the language model only (vision tower frozen),
  or also on the vision blocks (``tuning=lora_vision``); ``tuning=full`` trains every weight (no PEFT).
- :func:`run` trains with resume from the last complete checkpoint, writes the adapter + processor,
  the model card and (optionally) merged weights, and logs metrics with dvclive.

Checkpoints record a fingerprint of everything that shapes the trajectory (params and data hashes);
a rerun resumes only when it matches, so changed params never continue a stale run.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console

from vqr1 import layout
from vqr1.config import Params
from vqr1.fsutil import atomic_path, atomic_write_text
from vqr1.train import modelcard
from vqr1.train.rewards import reward_functions
from vqr1.train.sampler import DatasetGroupedRepeatSampler
from vqr1.train.trainer_config import grpo_config, peft_config, run_state

console = Console(stderr=True)
FINGERPRINT = "fingerprint.json"
# Changing these continues the same run rather than starting a new one (train.* and train.grpo.*).
RESUMABLE_KEYS = {"merge_weights"}
RESUMABLE_GRPO_KEYS = {"max_steps", "num_train_epochs", "save_steps", "save_total_limit", "logging_steps"}


def _grpo_trainer_class() -> type:
    from trl import GRPOTrainer

    class GroupedGRPOTrainer(GRPOTrainer):
        """GRPOTrainer whose reward calls rank ranking groups: one device micro-batch of images
        (``per_device_train_batch_size / K``) from one dataset, never compared with another group."""

        def _get_train_sampler(self, dataset: Any = None) -> DatasetGroupedRepeatSampler:
            dataset = self.train_dataset if dataset is None else dataset
            return DatasetGroupedRepeatSampler.for_trainer(
                dataset["dataset"],
                self.args,
                num_generations=self.num_generations,
                num_iterations=self.num_iterations,
                num_processes=self.accelerator.num_processes,
                shuffle=self.shuffle_dataset,
            )

        def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
            """Label each completion with its ranking group before the rewards see it. The sampler lays a
            process's generation batch out as ``steps_per_generation`` groups of G images x K completions
            in a row; numbering them from ``process_index x steps_per_generation`` gives the group's
            position in the round, the same on any number of processes. With TRL's ``log_completions``
            the completions table records image, dataset, group and process of every completion."""
            if self.model.training:
                first = self.accelerator.process_index * self.args.steps_per_generation
                size = self.args.per_device_train_batch_size  # G x K completions: one group
                inputs = [{**row, "ranking_group": first + i // size} for i, row in enumerate(inputs)]
                if self.log_completions:
                    for column in ("image_id", "dataset", "ranking_group"):
                        self._log_completion_extra(column, [row[column] for row in inputs])
                    self._log_completion_extra("process", [self.accelerator.process_index] * len(inputs))
            return super()._generate_and_score_completions(inputs)

    return GroupedGRPOTrainer


def load_policy(params: Params) -> Any:
    """The trainable base model (LoRA is attached by the trainer from :func:`peft_config`)."""
    from vqr1.model.loading import load_base

    model = load_base(params.model)
    if params.train.tuning == "full":
        model.requires_grad_(True)
    return model


def build_trainer(
    params: Params,
    dataset: Any,
    output_dir: Path,
    callbacks: list[Any] | None = None,
    model: Any = None,
    **extra_args: Any,
) -> Any:
    """GroupedGRPOTrainer for ``dataset`` (see vqr1.data.training_view) with checkpoints in ``output_dir``.

    ``model`` replaces the weights of ``model.base`` (the GPU benchmark builds a random 7B-shaped model
    in memory; the processor still comes from ``model.base``); ``extra_args`` go to :func:`grpo_config`."""
    from vqr1.model.loading import load_processor

    processor = load_processor(params.model.base, params.model, padding_side="left")
    trainer_cls = _grpo_trainer_class()
    return trainer_cls(
        model=load_policy(params) if model is None else model,
        reward_funcs=reward_functions(
            params.train.reward_funcs, params.train.unparsable, params.seed, params.train.score_clip
        ),
        args=grpo_config(params, output_dir, **extra_args),
        train_dataset=dataset,
        processing_class=processor,
        peft_config=peft_config(params.train),
        callbacks=callbacks,
    )


def fingerprint(params: Params, data_versions: dict[str, str]) -> dict[str, Any]:
    """What a checkpoint must match to be resumed: the params that shape training, and the data hashes."""
    train = {k: v for k, v in params.train.model_dump().items() if k not in RESUMABLE_KEYS}
    train["grpo"] = {k: v for k, v in params.train.grpo.items() if k not in RESUMABLE_GRPO_KEYS}
    return {"seed": params.seed, "model": params.model.model_dump(), "train": train, "data": data_versions}


def checkpoint_step(checkpoint: Path) -> int:
    return int(json.loads((checkpoint / "trainer_state.json").read_text())["global_step"])


def last_checkpoint(checkpoints: Path) -> Path | None:
    """The newest ``checkpoint-N`` whose trainer_state.json exists (written last, so the save completed)."""
    done = [p for p in checkpoints.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    done = [p for p in done if p.name.removeprefix("checkpoint-").isdigit()]
    return max(done, key=lambda p: int(p.name.removeprefix("checkpoint-")), default=None)


def resume_point(checkpoints: Path, expected: dict[str, Any]) -> Path | None:
    """The checkpoint to resume from; stale checkpoints (other params or data) are removed."""
    stamp = checkpoints / FINGERPRINT
    if checkpoints.is_dir() and any(checkpoints.glob("checkpoint-*")):
        recorded = json.loads(stamp.read_text()) if stamp.is_file() else None
        if recorded == json.loads(json.dumps(expected)):
            return last_checkpoint(checkpoints)
        console.print(f"[yellow]{checkpoints}: checkpoints from other params or data, starting afresh[/]")
        shutil.rmtree(checkpoints)
    checkpoints.mkdir(parents=True, exist_ok=True)
    atomic_write_text(stamp, json.dumps(expected, indent=2, sort_keys=True))
    return None


def trim_dvclive(folder: Path, last_step: int) -> None:
    """Drop plot rows logged after ``last_step``: a killed run may have logged steps past its last
    checkpoint, and the resumed run logs those steps again."""
    import pandas as pd

    for tsv in (Path(folder) / "plots" / "metrics").rglob("*.tsv"):
        rows = pd.read_csv(tsv, sep="\t")
        if "step" in rows and (rows["step"] > last_step).any():
            with atomic_path(tsv) as tmp:
                rows[rows["step"] <= last_step].to_csv(tmp, sep="\t", index=False)


def _dvclive(root: Path, resume_step: int | None) -> Any:
    """transformers' DVCLiveCallback with dvclive's step = the trainer's global step (so a resumed run
    continues the same x axis) and no dvc.yaml of its own (the stage declares the plots)."""
    from dvclive import Live
    from transformers.integrations import DVCLiveCallback

    folder = Path(root) / layout.DVCLIVE_DIR
    if resume_step is not None:
        trim_dvclive(folder, resume_step)

    class StepDVCLiveCallback(DVCLiveCallback):
        def on_log(self, args, state, control, model=None, logs=None, **kwargs):  # type: ignore[no-untyped-def]
            if self.live is not None and state.is_world_process_zero:
                self.live.step = state.global_step
            super().on_log(args, state, control, model=model, logs=logs, **kwargs)

    live = Live(
        dir=str(folder), resume=resume_step is not None, save_dvc_exp=False, dvcyaml=None, report=None
    )
    return StepDVCLiveCallback(live=live)


def _publish(trainer: Any, staging: Path, target: Path) -> None:
    """Save the trained weights + processor into ``staging`` (all ranks: ZeRO-3 gathers) and swap it in."""
    if trainer.accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(staging))
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)


def export_merged(params: Params, adapter: Path, out: Path) -> Path:
    """Base + adapter merged into plain weights (for serving without PEFT), with the processor."""
    from vqr1.fsutil import atomic_dir
    from vqr1.model.loading import load_model, load_processor

    model = load_model(params.model, adapter=adapter, device="cpu")
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        load_processor(adapter, params.model).save_pretrained(tmp)
    return out


def run(root: Path, params: Params) -> Path:
    """Train in workspace ``root``; returns ``models/<run>`` (adapter/ or model/, README.md, checkpoints/)."""
    from vqr1.data.training_view import training_dataset

    root = Path(root)
    out = layout.run_dir(root, params.train)
    checkpoints = out / "checkpoints"
    dataset = training_dataset(root, params.data.train_datasets, thinking=params.train.thinking)
    versions = modelcard.data_versions(root, params.data.train_datasets)
    state = run_state()
    main = state.is_main_process
    with state.main_process_first():  # the main process drops stale checkpoints before the others look
        resume = (
            resume_point(checkpoints, fingerprint(params, versions)) if main else last_checkpoint(checkpoints)
        )
    callbacks = [_dvclive(root, checkpoint_step(resume) if resume else None)] if main else []
    runtime = layout.resolve_model_base(params, root)
    trainer = build_trainer(runtime, dataset, checkpoints, callbacks=callbacks)
    if resume is not None:
        console.print(f"resuming from {resume}")
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    weights = layout.weights_dir(root, params.train)
    _publish(trainer, out / f".{weights.name}.partial", weights)
    if main:
        if params.train.tuning == "full":  # a full run replaces an earlier LoRA run's adapter
            shutil.rmtree(out / "adapter", ignore_errors=True)
        modelcard.write(out, params, root, trainer.state.log_history, trainer.state.global_step)
        if params.train.merge_weights and params.train.tuning != "full":
            export_merged(runtime, weights, out / "merged")
    return out
