"""The GRPO trainer: TRL's GRPOTrainer with the ranking-group sampler, the policy and the processor from params.

:class:`GroupedGRPOTrainer` is GRPOTrainer with two overrides: the train sampler serves ranking groups
of ONE dataset (:mod:`vqr1.train.sampler`), and each completion is labelled with its group so the reward
ranks within it; a full fine-tune's checkpoint is reloaded with its keys renamed (the Trainer's own loader
drops every weight of a Qwen2.5-VL checkpoint). Nothing else is forked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vqr1.config import Params
from vqr1.train.rewards import reward_functions
from vqr1.train.sampler import DatasetGroupedRepeatSampler
from vqr1.train.trainer_config import grpo_config, peft_config

FULL_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")  # a checkpoint of every weight


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

        def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
            """A full model's checkpoint is loaded through ``from_pretrained``, which renames the keys.
            transformers saves Qwen2.5-VL under its hub names (``visual.*``, ``model.layers.*``) and the
            Trainer's own resume loads that file without renaming: every weight is reported missing and the
            run silently continues from the base model (QwenLM/Qwen3-VL#1763). Adapters load as before."""
            model = self.model if model is None else model
            folder = Path(resume_from_checkpoint)
            full = any((folder / name).is_file() for name in FULL_WEIGHTS)
            if not full or hasattr(model, "peft_config"):
                return super()._load_from_checkpoint(resume_from_checkpoint, model)
            saved = type(model).from_pretrained(folder, dtype=model.dtype)
            model.load_state_dict(saved.state_dict(), strict=True)  # a key that does not match is an error

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
