"""Scoring throughput on the tiny model: images per second with batch 1 vs 8 vs 16, measured in one run.

Why interleaved repeats: the machine is shared, so each repeat runs every batch size back to back
and the median per batch size is reported; the ratios compare figures taken under the same load.
Prints one JSON object as its last line (see scripts/bench_all.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from vqr1.config import EvaluateParams, Params
from vqr1.data import synth
from vqr1.inference.backends import HFBackend
from vqr1.inference.images import expand_paths
from vqr1.inference.scorer import Scorer
from vqr1.model import tiny
from vqr1.model.loading import load_model, load_processor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--warmup-steps", type=int, default=100, help="format warm-up of the tiny model")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1: stable figures on a shared machine)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="bench-score-") as tmp:
        root = Path(tmp)
        tiny.build(root / "model", seed=0, warmup_steps=args.warmup_steps)
        spec = synth.SynthSpec(references=max(1, -(-args.images // 30)), width=256, height=192)
        images = expand_paths([synth.build(root / "synth", spec, progress=False) / "images"])[: args.images]
        params = Params.model_validate(
            {
                "data": {"datasets": ["s"], "train_datasets": ["s"], "eval_datasets": ["s"]},
                "model": {"base": str(root / "model"), "min_pixels": 784, "max_pixels": 12544},
                "evaluate": {"max_new_tokens": args.max_new_tokens},
            }
        )
        settings: EvaluateParams = params.evaluate
        backend = HFBackend(
            load_model(params.model), load_processor(params.model.base, params.model), settings
        )
        scorers = {
            bs: Scorer(backend, settings.model_copy(update={"batch_size": bs})) for bs in args.batch_sizes
        }
        scorers[max(args.batch_sizes)].score(images[:8])  # first-call warm-up (allocations, kernels)
        timings: dict[int, list[float]] = {bs: [] for bs in args.batch_sizes}
        parsed: dict[int, float] = {}
        for _ in range(args.repeats):
            for bs, scorer in scorers.items():
                start = time.perf_counter()
                results = scorer.score(images)
                timings[bs].append(time.perf_counter() - start)
                parsed[bs] = sum(len(r.parsed) for r in results) / max(1, sum(len(r.scores) for r in results))

    per_s = {bs: len(images) / statistics.median(ts) for bs, ts in timings.items()}
    base = min(args.batch_sizes)
    out = {
        "images_per_s": {f"batch_{bs}": round(v, 2) for bs, v in per_s.items()},
        "speedup_vs_batch_1" if base == 1 else f"speedup_vs_batch_{base}": {
            f"batch_{bs}": round(v / per_s[base], 2) for bs, v in per_s.items()
        },
        "parsed_fraction": {f"batch_{bs}": round(v, 3) for bs, v in parsed.items()},
        "images": len(images),
        "max_new_tokens": args.max_new_tokens,
        "method": (
            f"tiny Qwen2.5-VL ({args.warmup_steps}-step format warm-up), {len(images)} synthetic 256x192 images "
            f"(max_pixels 12544), HF generate with left padding, temperature {settings.temperature}, "
            f"{args.max_new_tokens} new tokens max; median of {args.repeats} interleaved repeats per batch size, "
            f"one process, CPU, {args.threads} torch thread(s)"
        ),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
