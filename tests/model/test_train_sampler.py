"""The ranking-group GRPO sampler: TRL's RepeatSampler order, single-dataset groups, and the same update
schedule whatever the number of processes (each process's batches cut by accelerate's own
BatchSamplerShard, as the prepared DataLoader does)."""

from __future__ import annotations

import numpy as np
import pytest
from accelerate.data_loader import BatchSamplerShard
from torch.utils.data import BatchSampler

from vqr1.errors import DataError
from vqr1.train.sampler import DatasetGroupedRepeatSampler

LABELS = ["kadid10k"] * 13 + ["spaq"] * 9 + ["kadid10k"] * 4


def process_batches(sampler: DatasetGroupedRepeatSampler, batch_size: int) -> list[list[list[int]]]:
    """Per process, the DataLoader batches it receives (accelerate's sharding, even batches as prepared)."""
    batches = BatchSampler(sampler, batch_size, drop_last=False)
    return [
        list(BatchSamplerShard(batches, sampler.num_processes, p, split_batches=False, even_batches=True))
        for p in range(sampler.num_processes)
    ]


def served_updates(
    labels: list[str], group: int, k: int, per_update: int, processes: int, epoch: int = 0, seed: int = 42
) -> list[list[tuple[int, ...]]]:
    """What each optimizer update trains on, as TRL consumes it: per process one generation batch of
    ``accum`` groups (steps_per_generation = gradient_accumulation_steps), repeated for its ``accum``
    micro-steps; the groups of an update listed process by process."""
    accum = per_update // (group * processes)
    sampler = DatasetGroupedRepeatSampler(
        labels,
        group,
        k,
        groups_per_call=accum,
        repeat_count=accum,
        num_processes=processes,
        groups_per_update=processes * accum,
        seed=seed,
    )
    sampler.set_epoch(epoch)
    streams = process_batches(sampler, accum * group * k)
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


def test_same_seed_same_update_schedule_on_1_8_16_processes() -> None:
    """The paper's 128 images per update (16 groups of 8, K = 6) on KADID's 6,125 training images plus a
    second dataset: 1 process x 16 accumulation steps, 8 x 2 and 16 x 1 train the same groups in the same
    updates, in the same order, epoch after epoch."""
    labels = ["kadid10k"] * 6125 + ["spaq"] * 203
    schedules = {p: [served_updates(labels, 8, 6, 128, p, epoch) for epoch in (0, 1)] for p in (1, 8, 16)}
    assert schedules[1] == schedules[8] == schedules[16]
    epoch0, epoch1 = schedules[1]
    assert len(epoch0) == (6125 // 8 + 203 // 8) // 16 == 49  # whole updates only
    assert epoch0 != epoch1
    for update in epoch0 + epoch1:
        assert len(update) == 16 and all(len(g) == 8 for g in update)
        images = [i for g in update for i in g]
        assert len(set(images)) == 128
        assert all(len({labels[i] for i in g}) == 1 for g in update)  # one dataset per ranking group
    # no image twice in an epoch
    assert len({i for u in epoch0 for g in u for i in g}) == 49 * 128


def test_paper_epochs_make_470_updates() -> None:
    """10 epochs of KADID-10K's 6,125 training images at 128 per update: 47 whole updates per epoch."""
    sampler = DatasetGroupedRepeatSampler(
        ["kadid10k"] * 6125, 8, 6, groups_per_call=16, repeat_count=16, groups_per_update=16
    )
    micro_steps = len(sampler) // (16 * 8 * 6)  # DataLoader batches of one process
    assert micro_steps // 16 * 10 == 470


def test_too_few_images_is_a_clear_error() -> None:
    with pytest.raises(DataError, match=r"needs 2 groups of 4 images .* kadid10k: 7, spaq: 2"):
        DatasetGroupedRepeatSampler(["kadid10k"] * 7 + ["spaq"] * 2, 4, 2, num_processes=2)


def test_an_update_spanning_several_rounds_keeps_whole_updates() -> None:
    """steps_per_generation 1 with accumulation 3 on 2 processes: rounds of 2 groups, updates of 6."""
    sampler = DatasetGroupedRepeatSampler(["a"] * 50, 2, 2, num_processes=2, groups_per_update=6)
    assert sampler.n_groups == 24 and len(sampler.updates()) == 4
    assert np.concatenate(sampler.groups()).size == 48
