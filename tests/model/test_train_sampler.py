"""The dataset-grouping GRPO sampler: TRL's RepeatSampler order, one dataset per reward call."""

from __future__ import annotations

import pytest

from vqr1.errors import DataError
from vqr1.train.sampler import DatasetGroupedRepeatSampler

LABELS = ["kadid10k"] * 13 + ["spaq"] * 9 + ["kadid10k"] * 4


@pytest.mark.parametrize(("images", "k", "repeat", "procs"), [(2, 3, 1, 1), (4, 2, 2, 1), (3, 6, 1, 2)])
def test_calls_hold_one_dataset_in_repeat_sampler_order(images: int, k: int, repeat: int, procs: int) -> None:
    sampler = DatasetGroupedRepeatSampler(LABELS, images, k, repeat_count=repeat, num_processes=procs, seed=3)
    order = list(sampler)
    assert len(order) == len(sampler) > 0
    call = images * k  # what one process's reward call receives (one DataLoader batch)
    batches = [order[i : i + call] for i in range(0, len(order), call)]
    for batch in batches:
        assert len({LABELS[i] for i in batch}) == 1
        distinct = list(dict.fromkeys(batch))
        assert len(distinct) == images
        assert batch == [i for i in distinct for _ in range(k)]  # K contiguous copies per image
    # one round = procs consecutive batches; a generation chunk is repeated `repeat` times
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


def test_too_few_images_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="kadid10k: 3, spaq: 2"):
        DatasetGroupedRepeatSampler(["kadid10k"] * 3 + ["spaq"] * 2, 4, 2)
