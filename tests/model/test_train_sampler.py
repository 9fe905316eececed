"""The ranking-group GRPO sampler: TRL's RepeatSampler order, single-dataset groups, and the same update
schedule whatever the number of processes (each process's batches cut by accelerate's own
BatchSamplerShard, as the prepared DataLoader does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.data_loader import BatchSamplerShard
from torch.utils.data import BatchSampler

from tests.conftest import REPO
from vqr1.config import load_params
from vqr1.errors import DataError
from vqr1.train.sampler import DatasetGroupedRepeatSampler
from vqr1.train.trainer_config import grpo_config

LABELS = ["kadid10k"] * 13 + ["spaq"] * 9 + ["kadid10k"] * 4


def process_batches(sampler: DatasetGroupedRepeatSampler, batch_size: int) -> list[list[list[int]]]:
    """Per process, the DataLoader batches it receives (accelerate's sharding, even batches as prepared)."""
    batches = BatchSampler(sampler, batch_size, drop_last=False)
    return [
        list(BatchSamplerShard(batches, sampler.num_processes, p, split_batches=False, even_batches=True))
        for p in range(sampler.num_processes)
    ]


def served_updates(
    sampler: DatasetGroupedRepeatSampler, args: Any, epoch: int
) -> list[list[tuple[int, ...]]]:
    """What each optimizer update trains on, as TRL consumes it with GRPOConfig ``args``: per process one
    generation batch of ``steps_per_generation`` groups (TRL's DataLoader batch), repeated for as many
    micro-steps; the groups of an update listed process by process."""
    accum, k = args.gradient_accumulation_steps, sampler.num_generations
    assert args.steps_per_generation == accum  # TRL's default: one generation per update
    group = sampler.images_per_group
    sampler.set_epoch(epoch)
    streams = process_batches(sampler, args.per_device_train_batch_size * args.steps_per_generation)
    assert len({len(s) for s in streams}) == 1  # every process makes the same number of micro-steps
    updates = []
    for step in range(0, len(streams[0]), accum):
        assert all(s[step + i] == s[step] for s in streams for i in range(accum))  # one generation reused
        groups = []
        for stream in streams:
            batch = stream[step]
            for start in range(0, len(batch), group * k):
                chunk = batch[start : start + group * k]
                assert chunk == [i for i in dict.fromkeys(chunk) for _ in range(k)]  # K copies in a row
                groups.append(tuple(dict.fromkeys(chunk)))
        updates.append(groups)
    return updates


def preset_run(preset: str, labels: list[str], out: Path) -> tuple[Any, DatasetGroupedRepeatSampler]:
    """The GRPOConfig and the train sampler a preset gets on the process count of its accelerate config."""
    params = load_params(REPO / "params.yaml", [REPO / "configs" / f"{preset}.yaml"])
    processes = load_config_from_file(str(REPO / params.train.accelerate_config)).num_processes
    args = grpo_config(params, out, num_processes=processes)
    sampler = DatasetGroupedRepeatSampler.for_trainer(
        labels, args, args.num_generations, args.num_iterations, processes
    )
    return args, sampler


@pytest.mark.parametrize(
    ("images", "k", "calls", "repeat", "procs"),
    [(2, 3, 1, 1, 1), (4, 2, 1, 2, 1), (3, 6, 1, 1, 2), (2, 2, 2, 2, 2)],
)
def test_groups_hold_one_dataset_in_repeat_sampler_order(
    images: int, k: int, calls: int, repeat: int, procs: int
) -> None:
    sampler = DatasetGroupedRepeatSampler(
        LABELS, images, k, groups_per_call=calls, repeat_count=repeat, num_processes=procs, seed=3
    )
    order = list(sampler)
    assert len(order) == len(sampler) > 0
    per_call = images * k * calls  # what one process's reward call receives (one DataLoader batch)
    batches = [order[i : i + per_call] for i in range(0, len(order), per_call)]
    for batch in batches:
        for start in range(0, per_call, images * k):
            group = batch[start : start + images * k]
            assert len({LABELS[i] for i in group}) == 1
            distinct = list(dict.fromkeys(group))
            assert len(distinct) == images
            assert group == [i for i in distinct for _ in range(k)]  # K contiguous copies per image
    # one round = procs consecutive batches; a generation round is repeated `repeat` times
    rounds = [[i for b in batches[r : r + procs] for i in b] for r in range(0, len(batches), procs)]
    for start in range(0, len(rounds), repeat):
        assert all(rounds[start + j] == rounds[start] for j in range(repeat))
    served = [i for r in rounds[::repeat] for i in dict.fromkeys(r)]
    assert len(served) == len(set(served))  # no image twice in an epoch


def test_epochs_reshuffle_reproducibly() -> None:
    labels = ["kadid10k"] * 8 + ["spaq"] * 6  # divisible by 2: every image is served each epoch
    a = DatasetGroupedRepeatSampler(labels, 2, 2, seed=1)
    b = DatasetGroupedRepeatSampler(labels, 2, 2, seed=1)
    first = list(a)
    assert first == list(b)
    a.set_epoch(1)
    assert list(a) != first and sorted(a) == sorted(first)


def test_presets_for_1_8_16_gpus_train_the_same_updates_of_128_images_in_groups_of_8(tmp_path: Path) -> None:
    """configs/paper-{1,8,16}gpu.yaml with their accelerate configs' process counts (1, 8, 16), their real
    GRPOConfigs and the trainer's sampler, on KADID's 6,125 training images plus a second dataset: the same
    groups of 8 in the same updates of 128, in the same order, epoch after epoch."""
    labels = ["kadid10k"] * 6125 + ["spaq"] * 203
    schedules, layouts = {}, {}
    for preset in ("paper-1gpu", "paper-8gpu", "paper-16gpu"):
        args, sampler = preset_run(preset, labels, tmp_path)
        layouts[preset] = (
            sampler.num_processes,
            args.gradient_accumulation_steps,
            args.per_device_train_batch_size,
        )
        schedules[preset] = [served_updates(sampler, args, epoch) for epoch in (0, 1)]
    assert layouts == {"paper-1gpu": (1, 16, 48), "paper-8gpu": (8, 2, 48), "paper-16gpu": (16, 1, 48)}
    assert schedules["paper-1gpu"] == schedules["paper-8gpu"] == schedules["paper-16gpu"]
    epoch0, epoch1 = schedules["paper-1gpu"]
    assert len(epoch0) == len(epoch1) == (6125 // 8 + 203 // 8) // 16 == 49  # whole updates only
    assert epoch0 != epoch1
    for update in epoch0 + epoch1:
        assert len(update) == 16 and all(len(g) == 8 for g in update)
        assert len({i for g in update for i in g}) == 128
        assert all(len({labels[i] for i in g}) == 1 for g in update)  # one dataset per ranking group
    assert len({i for u in epoch0 for g in u for i in g}) == 49 * 128  # no image twice in an epoch


def test_paper_epochs_make_470_updates(tmp_path: Path) -> None:
    """The paper preset on one GPU over KADID-10K's 6,125 training images: 47 whole updates per epoch, 10
    epochs (the Trainer's count: DataLoader batches of one process / accumulation steps)."""
    args, sampler = preset_run("paper-1gpu", ["kadid10k"] * 6125, tmp_path)
    batches = len(sampler) // (args.per_device_train_batch_size * args.steps_per_generation)
    assert batches // args.gradient_accumulation_steps * args.num_train_epochs == 470


def test_too_few_images_is_a_clear_error() -> None:
    with pytest.raises(DataError, match=r"needs 2 groups of 4 images .* kadid10k: 7, spaq: 2"):
        DatasetGroupedRepeatSampler(["kadid10k"] * 7 + ["spaq"] * 2, 4, 2, num_processes=2)


def test_an_update_spanning_several_rounds_keeps_whole_updates() -> None:
    """steps_per_generation 1 with accumulation 3 on 2 processes: rounds of 2 groups, updates of 6."""
    sampler = DatasetGroupedRepeatSampler(["a"] * 50, 2, 2, num_processes=2, groups_per_update=6)
    assert sampler.n_groups == 24 and len(sampler.updates()) == 4
    assert np.concatenate(sampler.groups()).size == 48
