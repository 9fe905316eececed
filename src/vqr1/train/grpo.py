"""Training a workspace with GRPO (TRL) and LoRA (PEFT) on Qwen2.5-VL, configured from params.

:func:`train_workspace` is what the DVC train stage and `vqr1 train run` call. It resumes from the last
complete checkpoint made from the same params and data (:mod:`vqr1.train.resume`), trains with
:mod:`vqr1.train.trainer` (config from :mod:`vqr1.train.trainer_config`), logs with dvclive
(:mod:`vqr1.train.live`), then publishes the adapter (or full weights) with the processor, the model
card and, optionally, merged weights (:mod:`vqr1.train.publish`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console

from vqr1 import layout
from vqr1.config import Params
from vqr1.train import modelcard
from vqr1.train.heldout import HeldOutSRCC
from vqr1.train.live import dvclive_callback
from vqr1.train.publish import export_merged, publish
from vqr1.train.resume import checkpoint_step, fingerprint, last_checkpoint, resume_point
from vqr1.train.trainer import build_trainer
from vqr1.train.trainer_config import run_state

console = Console(stderr=True, soft_wrap=True)  # paths in messages stay whole (no wrapping)


def train_workspace(root: Path, params: Params) -> Path:
    """Train in workspace ``root``; returns ``models/<run>`` (adapter/ or model/, README.md, checkpoints/)."""
    from vqr1.data.training_view import training_dataset

    root = Path(root)
    out = layout.run_dir(root, params.train)
    checkpoints = out / "checkpoints"
    t = params.train
    dataset = training_dataset(
        root,
        params.data.train_datasets,
        thinking=t.thinking,
        hint=t.mos_hint,
        shuffle_mos_seed=params.seed if t.shuffle_mos else None,
    )
    versions = modelcard.data_versions(root, params.data.train_datasets)
    state = run_state()
    main = state.is_main_process
    with state.main_process_first():  # the main process drops stale checkpoints before the others look
        resume = (
            resume_point(checkpoints, fingerprint(params, versions)) if main else last_checkpoint(checkpoints)
        )
    runtime = layout.resolve_model_base(params, root)
    callbacks = []
    if main:  # the held-out monitor goes first: it adds its figure to the logs dvclive then writes
        if t.heldout.every:
            callbacks.append(HeldOutSRCC.from_workspace(root, runtime))
        callbacks.append(dvclive_callback(root, checkpoint_step(resume) if resume else None))
    trainer = build_trainer(runtime, dataset, checkpoints, callbacks=callbacks)
    if resume is not None:
        console.print(f"resuming from {resume}")
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    weights = layout.weights_dir(root, params.train)
    publish(trainer, weights, runtime)
    if main:
        if params.train.tuning == "full":  # a full run replaces an earlier LoRA run's adapter
            shutil.rmtree(out / "adapter", ignore_errors=True)
        modelcard.write(out, params, root, trainer.state.log_history, trainer.state.global_step)
        if params.train.merge_weights and params.train.tuning != "full":
            export_merged(runtime, weights, out / "merged")
    return out
