"""A GRPO sampler that serves ranking groups: G images of ONE dataset, ranked against each other only.

Why: the ranking reward compares scores between images, and MOS scales of different datasets are not
comparable (SPEC §1: the reference sampler draws each device batch of 8 from a single dataset). The
paper's optimizer step sees 128 images in 16 such groups (16 GPUs x 8); on fewer GPUs gradient
accumulation makes up the difference, and the groups must stay groups of 8.

Each epoch is one sequence of groups that depends only on (seed, epoch, G): every dataset is shuffled and
cut into groups of G, then the groups are shuffled. Update u takes groups ``[u*n, (u+1)*n)`` with
``n = groups_per_update``, however they are spread over processes and accumulation steps, so the same
seed gives the same images per update on 1, 8 or 16 GPUs. The epoch is cut to whole updates (the few
images left over are different ones each epoch).

The indices come in exactly TRL's ``RepeatSampler`` order (each image K times in a row, each
generation round repeated ``repeat_count`` times). A round is ``num_processes x groups_per_call``
consecutive groups; the DataLoader cuts it into per-process generation batches of ``groups_per_call``
groups, and accelerate hands batch p of each round to process p. Within a process's batch the groups
are contiguous (G x K completions each), which is how the trainer labels each completion's group.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Sampler

from vqr1.errors import DataError


class DatasetGroupedRepeatSampler(Sampler[int]):
    """RepeatSampler order over single-dataset groups of ``images_per_group`` images."""

    def __init__(
        self,
        labels: Sequence[str],
        images_per_group: int,
        num_generations: int,
        groups_per_call: int = 1,
        repeat_count: int = 1,
        num_processes: int = 1,
        groups_per_update: int | None = None,
        shuffle: bool = True,
        seed: int = 42,
    ) -> None:
        if images_per_group < 2:
            raise ValueError(f"images_per_group must be >= 2 for a ranking reward, got {images_per_group}")
        self.labels = np.asarray([str(x) for x in labels])
        self.images_per_group = images_per_group
        self.num_generations = num_generations
        self.groups_per_call = groups_per_call
        self.repeat_count = repeat_count
        self.num_processes = num_processes
        self.groups_per_round = groups_per_call * num_processes
        self.groups_per_update = groups_per_update or self.groups_per_round
        # an epoch holds whole generation rounds AND whole optimizer updates
        self.groups_per_block = math.lcm(self.groups_per_round, self.groups_per_update)
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        names, counts = np.unique(self.labels, return_counts=True)
        available = int((counts // images_per_group).sum())
        self.n_groups = available - available % self.groups_per_block
        if self.n_groups == 0:
            sizes = ", ".join(f"{n}: {c}" for n, c in zip(names, counts, strict=True))
            raise DataError(
                f"training data too small: one update needs {self.groups_per_block} groups of "
                f"{images_per_group} images of one dataset each; have {sizes or 'no images'}"
            )

    @classmethod
    def for_trainer(
        cls,
        labels: Sequence[str],
        args: Any,
        num_generations: int,
        num_iterations: int,
        num_processes: int,
        shuffle: bool = True,
    ) -> DatasetGroupedRepeatSampler:
        """The sampler of a GRPO run with TRL ``args`` on ``num_processes`` processes: one ranking group per
        device micro-batch (``per_device_train_batch_size / K`` images), ``steps_per_generation`` groups per
        reward call, ``num_processes x gradient_accumulation_steps`` groups per optimizer update."""
        return cls(
            labels=labels,
            images_per_group=args.per_device_train_batch_size // num_generations,
            num_generations=num_generations,
            groups_per_call=args.steps_per_generation,
            repeat_count=num_iterations * args.steps_per_generation,
            num_processes=num_processes,
            groups_per_update=num_processes * args.gradient_accumulation_steps,
            shuffle=shuffle,
            seed=args.seed,
        )

    def set_epoch(self, epoch: int) -> None:
        """Called by the Trainer (through accelerate) at each epoch: a new, reproducible order."""
        self.epoch = epoch

    def groups(self) -> list[np.ndarray]:
        """This epoch's groups of dataset indices, each of one dataset, in the order they are served."""
        rng = np.random.default_rng([self.seed, self.epoch])
        groups: list[np.ndarray] = []
        for name in np.unique(self.labels):
            idx = np.flatnonzero(self.labels == name)
            if self.shuffle:
                idx = rng.permutation(idx)
            usable = len(idx) - len(idx) % self.images_per_group
            groups.extend(np.split(idx[:usable], usable // self.images_per_group))
        if self.shuffle:
            groups = [groups[i] for i in rng.permutation(len(groups))]
        return groups[: self.n_groups]

    def updates(self) -> list[list[np.ndarray]]:
        """This epoch's optimizer updates, each a list of its groups (what the schedule tests compare)."""
        groups = self.groups()
        n = self.groups_per_update
        return [groups[start : start + n] for start in range(0, len(groups), n)]

    def __iter__(self) -> Iterator[int]:
        groups = self.groups()
        for start in range(0, len(groups), self.groups_per_round):
            chunk = np.concatenate(groups[start : start + self.groups_per_round]).tolist()
            for _ in range(self.repeat_count):
                for index in chunk:
                    for _ in range(self.num_generations):
                        yield index

    def __len__(self) -> int:
        return self.n_groups * self.images_per_group * self.num_generations * self.repeat_count
