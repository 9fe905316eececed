"""A GRPO sampler whose every reward call sees B distinct images x K completions from ONE dataset.

Why: the ranking reward compares scores between the images of one call, and MOS scales of different
datasets are not comparable (SPEC §1: the reference sampler draws each batch from a single dataset).

It yields indices in exactly TRL's ``RepeatSampler`` order (each image K times in a row, each
generation chunk repeated ``num_iterations x steps_per_generation`` times), but a chunk is made of
``num_processes`` groups of ``images_per_call`` images, each group from a single dataset. The
DataLoader cuts the stream into per-process generation batches of ``images_per_call x K`` indices, and
accelerate hands batch p of each round to process p, so every process's reward call gets exactly one
group. The order depends only on (seed, epoch), so a resumed run replays the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from vqr1.errors import DataError


class DatasetGroupedRepeatSampler(Sampler[int]):
    """RepeatSampler order with single-dataset groups of ``images_per_call`` images."""

    def __init__(
        self,
        labels: Sequence[str],
        images_per_call: int,
        num_generations: int,
        repeat_count: int = 1,
        num_processes: int = 1,
        shuffle: bool = True,
        seed: int = 42,
    ) -> None:
        if images_per_call < 2:
            raise ValueError(f"images_per_call must be >= 2 for a ranking reward, got {images_per_call}")
        self.labels = np.asarray([str(x) for x in labels])
        self.images_per_call = images_per_call
        self.num_generations = num_generations
        self.repeat_count = repeat_count
        self.num_processes = num_processes
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        names, counts = np.unique(self.labels, return_counts=True)
        self.n_groups = int((counts // images_per_call).sum())
        if self.n_groups < num_processes:
            sizes = ", ".join(f"{n}: {c}" for n, c in zip(names, counts, strict=True))
            raise DataError(
                f"training data too small: {num_processes} process(es) x {images_per_call} images per reward call "
                f"need that many images of ONE dataset per process; have {sizes or 'no images'}"
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
            usable = len(idx) - len(idx) % self.images_per_call
            groups.extend(np.split(idx[:usable], usable // self.images_per_call))
        if self.shuffle:
            groups = [groups[i] for i in rng.permutation(len(groups))]
        return groups[: len(groups) - len(groups) % self.num_processes]

    def __iter__(self) -> Iterator[int]:
        groups = self.groups()
        for start in range(0, len(groups), self.num_processes):
            chunk = np.concatenate(groups[start : start + self.num_processes]).tolist()
            for _ in range(self.repeat_count):
                for index in chunk:
                    for _ in range(self.num_generations):
                        yield index

    def __len__(self) -> int:
        n_groups = self.n_groups - self.n_groups % self.num_processes
        return n_groups * self.images_per_call * self.num_generations * self.repeat_count
