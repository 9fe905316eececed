"""Benchmark: the vectorised fidelity ranking reward vs a straightforward per-pair Python loop.

Prints one JSON line: microseconds per reward call (median of repeats) for B=8, K=6 (the paper's
per-device batch) and B=64, K=8, for the whole TRL reward call (parsing included) and for the
ranking arithmetic alone, with the loop/vectorised ratios measured side by side in this one run.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable

import numpy as np

from vqr1.parsing import parse_score
from vqr1.train.rewards import EPS, GAMMA, fidelity_rewards, reward_functions, score_batch


def loop_reference(completions: list[str], image_id: list[str], mos: list[float]) -> list[float]:
    """SPEC §1 written the obvious way: parse, then for every completion loop over every other image."""
    return loop_from_scores([parse_score(c) for c in completions], image_id, mos)


def loop_from_scores(scores: list[float | None], image_id: list[str], mos: list[float]) -> list[float]:
    images: dict[str, list[float]] = {}
    image_mos: dict[str, float] = {}
    for s, i, m in zip(scores, image_id, mos, strict=True):
        images.setdefault(i, [])
        image_mos[i] = m
        if s is not None:
            images[i].append(s)
    stats = {}
    for i, xs in images.items():
        if xs:
            mu = sum(xs) / len(xs)
            var = sum((x - mu) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0
            stats[i] = (mu, var)
    out = []
    for s, i in zip(scores, image_id, strict=True):
        if s is None:
            out.append(0.0)
            continue
        terms = []
        for j, (mu_j, var_j) in stats.items():
            if j == i:
                continue
            pk = 0.5 * (1 + math.erf((s - mu_j) / math.sqrt(stats[i][1] + var_j + GAMMA) / math.sqrt(2)))
            p = 1.0 if image_mos[i] > image_mos[j] else 0.0 if image_mos[i] < image_mos[j] else 0.5
            terms.append(math.sqrt(p * pk + EPS) + math.sqrt((1 - p) * (1 - pk) + EPS))
        out.append(sum(terms) / len(terms) if terms else 0.0)
    return out


def make_call(b: int, k: int, seed: int) -> tuple[list[str], list[str], list[float]]:
    rng = np.random.default_rng(seed)
    mos = rng.uniform(1, 5, size=b).round(1)  # rounding makes ties, as in real sets
    completions, ids, mos_col = [], [], []
    for i in range(b):
        for _ in range(k):
            score = float(np.clip(mos[i] + rng.normal(0, 0.6), 1, 5))
            completions.append(
                f"<think>the image has some blur and noise</think><answer>{score:.2f}</answer>"
            )
            ids.append(f"img{i}")
            mos_col.append(float(mos[i]))
    return completions, ids, mos_col


def median_us(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def bench(b: int, k: int, repeats: int) -> dict[str, float]:
    completions, ids, mos = make_call(b, k, seed=b * 100 + k)
    (reward,) = reward_functions(["fidelity"])
    kwargs = {"prompts": [None] * len(completions), "completions": completions, "image_id": ids, "mos": mos}
    vectorised = reward(**kwargs)
    reference = loop_reference(completions, ids, mos)
    max_diff = float(np.max(np.abs(np.asarray(vectorised) - np.asarray(reference))))
    batch = score_batch(completions, ids, mos)
    parsed = [parse_score(c) for c in completions]
    full_vec = median_us(lambda: reward(**kwargs), repeats)
    full_loop = median_us(lambda: loop_reference(completions, ids, mos), repeats)
    math_vec = median_us(lambda: fidelity_rewards(batch), repeats)
    math_loop = median_us(lambda: loop_from_scores(parsed, ids, mos), repeats)
    return {
        "call_us_vectorised": round(full_vec, 1),
        "call_us_loop": round(full_loop, 1),
        "call_speedup": round(full_loop / full_vec, 2),
        "ranking_math_us_vectorised": round(math_vec, 1),
        "ranking_math_us_loop": round(math_loop, 1),
        "ranking_math_speedup": round(math_loop / math_vec, 2),
        "max_abs_diff_vs_loop": max_diff,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    result = {
        f"B{b}_K{k}": bench(b, k, args.repeats if b < 64 else max(args.repeats // 10, 5))
        for b, k in ((8, 6), (64, 8))
    }
    result["method"] = (
        "median wall time of repeated calls in one process (time.perf_counter); 'call' = the TRL reward function "
        "(parse + group + fidelity) vs a per-pair Python loop with math.erf doing the same; 'ranking_math' = "
        "the same two on already parsed scores; the two implementations agree to max_abs_diff_vs_loop"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
