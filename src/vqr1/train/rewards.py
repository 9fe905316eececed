"""Reward functions for GRPO: the RL2R ranking reward (SPEC §1), its ablation variants and the format reward.

Every reward is a TRL reward function ``f(prompts, completions, completion_ids, **columns) -> list[float]``.
TRL passes every dataset column as a keyword list aligned with ``completions`` (``image_id``, ``mos``,
``dataset`` here, and ``ranking_group`` added by the trainer); the K completions of one image are
contiguous but we group by ``image_id`` anyway.

Ranking rewards compare each completion's score with the OTHER images of its ranking group: the
``ranking_group`` column splits one call into groups of B images (with gradient accumulation one call
holds several groups; the reference ranks within a device batch of 8, never across). Without that
column the whole call is one group. Notation, for completion k of image i, B images in the group,
K completions per image:

- ``q_k(i)``: the score parsed by :func:`vqr1.parsing.parse_score`;
- ``mu(i)``, ``var(i)``: mean and UNBIASED variance (divide by K-1) of the parsed scores of image i;
- ``p(i, j)``: ground truth from the MOS order: 1 if MOS_i > MOS_j, 0 if MOS_i < MOS_j, 0.5 on a tie.

An unparsable completion gets ranking reward 0 and is left out of mu/var (``unparsable="skip"``), or,
with ``unparsable="paper"``, is given a random integer score 1..5 as the reference code does
(``random.randint(1, 5)``). An image without any parsed score cannot be a partner j; pairs are formed
only between images of the same group and the same ``dataset`` (the sampler already makes each group one
dataset; this makes cross-dataset comparison impossible even if it did not). The mean over j runs over
the partners that remain (B-1 normally).

Parsed scores are clipped to +-1e6 before any arithmetic so that absurd answers ("1e308"-sized
integers) cannot overflow to inf/nan; for scores anywhere near the 1-5 scale this changes nothing.
``score_clip=(lo, hi)`` (``train.score_clip``) clips them further to the MOS scale: one answer of 10^4
otherwise inflates var(i), and every p_k(i, j) of the call drifts to 0.5, flattening the rewards of the
whole group. The reference does not clip, so the paper recipe leaves it off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vqr1.errors import ConfigError
from vqr1.inference.thurstone import GAMMA, normal_cdf
from vqr1.parsing import has_format, parse_score

EPS = 1e-6  # inside the fidelity square roots (reference code)
SCORE_CLIP = 1e6
THRESHOLD = 0.35  # Q-Insight's tolerance on the 1-5 MOS scale
PAPER_FALLBACK = (1, 5)  # reference: random.randint(1, 5), both ends included

RewardFunc = Callable[..., list[float]]


def completion_text(completion: Any) -> str:
    """The text of a completion: a plain string, or the content of TRL's conversational message list."""
    if isinstance(completion, str):
        return completion
    parts: list[str] = []
    for message in completion:
        content = message.get("content") if isinstance(message, dict) else message
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text") or "") for p in content if isinstance(p, dict))
    return "".join(parts)


@dataclass(frozen=True)
class ScoredBatch:
    """One reward call as arrays: per completion its score and image index, per image its MOS, dataset and
    ranking group (an image of the call is an (image_id, ranking_group) pair)."""

    scores: np.ndarray  # (N,) float64, nan where unparsable
    image: np.ndarray  # (N,) int, index into the per-image arrays
    mos: np.ndarray  # (B,) float64
    dataset: np.ndarray  # (B,) int code
    group: np.ndarray  # (B,) int code
    unparsable: int = 0  # completions without a number, before any fallback

    @property
    def parsed(self) -> np.ndarray:
        return ~np.isnan(self.scores)


def score_batch(
    completions: Sequence[Any],
    image_id: Sequence[Any],
    mos: Sequence[float],
    dataset: Sequence[Any] | None = None,
    unparsable: str = "skip",
    rng: np.random.Generator | None = None,
    ranking_group: Sequence[Any] | None = None,
    score_clip: tuple[float, float] | None = None,
) -> ScoredBatch:
    """Parse every completion and group the call by (``image_id``, ``ranking_group``)."""
    n = len(completions)
    optional = [c for c in (dataset, ranking_group) if c is not None]
    if not (len(image_id) == len(mos) == n) or any(len(c) != n for c in optional):
        raise ValueError(f"reward columns disagree in length with the {n} completions")
    raw = [parse_score(completion_text(c)) for c in completions]
    scores = np.array([np.nan if s is None else s for s in raw], dtype=np.float64)
    failures = int(np.isnan(scores).sum())
    if unparsable == "paper":
        missing = np.isnan(scores)
        fallback = (rng or np.random.default_rng()).integers(
            *PAPER_FALLBACK, size=int(missing.sum()), endpoint=True
        )
        scores[missing] = fallback
    elif unparsable != "skip":
        raise ConfigError(f"train.unparsable must be 'skip' or 'paper', got {unparsable!r}")
    scores = np.clip(scores, *(score_clip or (-SCORE_CLIP, SCORE_CLIP)))
    groups = (
        np.full(n, "") if ranking_group is None else np.asarray([str(g) for g in ranking_group], dtype=str)
    )
    keys = np.char.add(np.char.add(groups, "\x00"), np.asarray(image_id, dtype=object).astype(str))
    _, first, image = np.unique(keys, return_index=True, return_inverse=True)
    datasets = np.asarray(["" if dataset is None else str(dataset[i]) for i in first])
    _, dataset_code = np.unique(datasets, return_inverse=True)
    _, group_code = np.unique(groups[first], return_inverse=True)
    return ScoredBatch(
        scores=scores,
        image=image.astype(np.int64),
        mos=np.asarray(mos, dtype=np.float64)[first],
        dataset=dataset_code.astype(np.int64),
        group=group_code.astype(np.int64),
        unparsable=failures,
    )


def image_stats(
    batch: ScoredBatch, fixed_variance: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image: number of parsed scores, their mean (nan when none) and unbiased variance (0 when < 2)."""
    n_images = len(batch.mos)
    parsed = batch.parsed
    values = np.where(parsed, batch.scores, 0.0)
    count = np.bincount(batch.image, weights=parsed.astype(np.float64), minlength=n_images)
    total = np.bincount(batch.image, weights=values, minlength=n_images)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(count > 0, total / count, np.nan)
        dev = np.where(parsed, batch.scores - mu[batch.image], 0.0)
        sq = np.bincount(batch.image, weights=dev * dev, minlength=n_images)
        var = np.where(count > 1, sq / np.maximum(count - 1, 1), 0.0)
    if fixed_variance:
        var = np.ones(n_images)
    return count, mu, var


def _pairs(batch: ScoredBatch, fixed_variance: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(N, B) arrays: standardised gap z = (q_k(i) - mu(j)) / sqrt(var_i + var_j + gamma), raw gap, ground
    truth p(i, j) and the mask of usable pairs (parsed completion, partner with scores, j != i, same group
    and dataset)."""
    count, mu, var = image_stats(batch, fixed_variance)
    own = batch.image
    mu_j = np.where(count > 0, mu, 0.0)[None, :]
    gap = np.where(batch.parsed, batch.scores, 0.0)[:, None] - mu_j
    z = gap / np.sqrt(var[own][:, None] + var[None, :] + GAMMA)
    truth = 0.5 * (1.0 + np.sign(batch.mos[own][:, None] - batch.mos[None, :]))
    mask = (
        batch.parsed[:, None]
        & (count > 0)[None, :]
        & (own[:, None] != np.arange(len(batch.mos))[None, :])
        & (batch.dataset[own][:, None] == batch.dataset[None, :])
        & (batch.group[own][:, None] == batch.group[None, :])
    )
    return z, gap, truth, mask


def _mean_over_partners(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    n = mask.sum(axis=1)
    return np.where(n > 0, (values * mask).sum(axis=1) / np.maximum(n, 1), 0.0)


def _fidelity_form(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    return np.sqrt(truth * predicted + EPS) + np.sqrt((1.0 - truth) * (1.0 - predicted) + EPS)


def fidelity_rewards(batch: ScoredBatch) -> np.ndarray:
    """RL2R fidelity reward (SPEC §1, the default)::

        p_k(i, j) = Phi((q_k(i) - mu(j)) / sqrt(var(i) + var(j) + gamma))
        r_k(i) = 1/(B-1) * sum_{j != i} [ sqrt(p(i,j) * p_k(i,j) + eps) + sqrt((1-p(i,j)) * (1-p_k(i,j)) + eps) ]

    Range [0, 1 + 2 sqrt(eps)].
    """
    z, _, truth, mask = _pairs(batch, fixed_variance=False)
    return _mean_over_partners(_fidelity_form(truth, normal_cdf(z)), mask)


def binary_rewards(batch: ScoredBatch) -> np.ndarray:
    """Hard comparison instead of Phi, same fidelity form::

    p_k(i, j) = 1 if q_k(i) > mu(j), 0 if q_k(i) < mu(j), 0.5 if equal
    r_k(i) = 1/(B-1) * sum_{j != i} [ sqrt(p * p_k + eps) + sqrt((1-p) * (1-p_k) + eps) ]
    """
    _, gap, truth, mask = _pairs(batch, fixed_variance=False)
    return _mean_over_partners(_fidelity_form(truth, 0.5 * (1.0 + np.sign(gap))), mask)


def prob_average_rewards(batch: ScoredBatch) -> np.ndarray:
    """The paper's "probability average" (Eq. 7, our reading): expected agreement instead of fidelity::

        r_k(i) = 1/(B-1) * sum_{j != i} [ p * p_k + (1-p) * (1-p_k) ],  p_k as in the fidelity reward

    Range [0, 1].
    """
    z, _, truth, mask = _pairs(batch, fixed_variance=False)
    predicted = normal_cdf(z)
    return _mean_over_partners(truth * predicted + (1.0 - truth) * (1.0 - predicted), mask)


def fixed_variance_rewards(batch: ScoredBatch) -> np.ndarray:
    """The fidelity reward with var(i) = var(j) = 1 for every image::

    p_k(i, j) = Phi((q_k(i) - mu(j)) / sqrt(2 + gamma)),  r_k(i) as in the fidelity reward
    """
    z, _, truth, mask = _pairs(batch, fixed_variance=True)
    return _mean_over_partners(_fidelity_form(truth, normal_cdf(z)), mask)


def threshold_rewards(batch: ScoredBatch) -> np.ndarray:
    """Q-Insight's score reward (a baseline, no ranking)::

    r_k(i) = 1 if |q_k(i) - MOS_i| < 0.35 (MOS on the 1-5 scale) else 0;  unparsable -> 0
    """
    gap = np.abs(np.where(batch.parsed, batch.scores, np.inf) - batch.mos[batch.image])
    return (gap < THRESHOLD).astype(np.float64)


RANKING_REWARDS: dict[str, Callable[[ScoredBatch], np.ndarray]] = {
    "fidelity": fidelity_rewards,
    "binary": binary_rewards,
    "prob_average": prob_average_rewards,
    "fixed_variance": fixed_variance_rewards,
    "threshold": threshold_rewards,
}
REWARD_NAMES = (*RANKING_REWARDS, "format")


def format_reward(completions: Sequence[Any], **_: Any) -> list[float]:
    """1 if the WHOLE completion is ``<think>...</think> <answer>...</answer>`` (dot matches newline), else 0."""
    return [1.0 if has_format(completion_text(c)) else 0.0 for c in completions]


def score_spread(batch: ScoredBatch) -> float:
    """Mean over images of the std of their parsed scores (the seed's Figure 3 quantity): how far the
    policy still explores; NaN when no image has two parsed scores."""
    count, _, var = image_stats(batch)
    spread = np.sqrt(var[count > 1])
    return float(spread.mean()) if spread.size else float("nan")


def _ranking_reward(
    name: str, unparsable: str, rng: np.random.Generator, score_clip: tuple[float, float] | None
) -> RewardFunc:
    """Wrap an array reward as a TRL reward function that also logs the call's parse-failure rate and the
    spread of the sampled scores."""
    score = RANKING_REWARDS[name]

    def reward(
        completions: Sequence[Any],
        image_id: Sequence[Any],
        mos: Sequence[float],
        dataset: Sequence[Any] | None = None,
        ranking_group: Sequence[Any] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        **_: Any,
    ) -> list[float]:
        batch = score_batch(completions, image_id, mos, dataset, unparsable, rng, ranking_group, score_clip)
        if log_metric is not None:
            log_metric("parse_failure_rate", batch.unparsable / max(len(completions), 1))
            log_metric("score_std", score_spread(batch))
        return score(batch).tolist()

    reward.__name__ = name
    reward.__doc__ = score.__doc__
    return reward


def reward_functions(
    names: Sequence[str],
    unparsable: str = "skip",
    seed: int = 42,
    score_clip: tuple[float, float] | None = None,
) -> list[RewardFunc]:
    """The TRL reward functions named in ``train.reward_funcs`` (their ``__name__`` labels the logs)."""
    unknown = [n for n in names if n not in REWARD_NAMES]
    if unknown:
        raise ConfigError(
            f"train.reward_funcs: unknown reward(s) {unknown}; choose from {list(REWARD_NAMES)}"
        )
    rng = np.random.default_rng(seed)
    return [
        format_reward if n == "format" else _ranking_reward(n, unparsable, rng, score_clip) for n in names
    ]


format_reward.__name__ = "format"  # TRL labels its logs with __name__: rewards/format/mean
