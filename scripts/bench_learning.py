"""Learning check on the CPU: does GRPO raise the ranking reward of the format-warmed tiny model?

Builds the tiny Qwen2.5-VL with the format warm-up, a synthetic KADID-format set (known quality
order) as a validated manifest, and runs the real train stage code (:func:`vqr1.train.grpo.train_workspace`, demo
profile) for N steps. Prints one JSON line: the mean ranking (fidelity) reward over the first 20 and
the last 20 steps, the format reward likewise, and the parse-failure rate. The aim is that the ranking
reward rises; a 190k-parameter random model can only learn a little, so read the figures, not a verdict.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from vqr1.config import Params, deep_merge, read_yaml
from vqr1.data import synth
from vqr1.data.training_view import validated_path
from vqr1.model import tiny
from vqr1.train import grpo

REPO = Path(__file__).resolve().parents[1]


def workspace(root: Path, warmup_steps: int, seed: int) -> None:
    folder = synth.build(
        root / "data" / "raw" / "synthetic", synth.SynthSpec(width=128, height=96), progress=False
    )
    labels = pd.read_csv(folder / "dmos.csv")
    frame = pd.DataFrame(
        {
            "image": [f"data/raw/synthetic/kadid10k/images/{n}" for n in labels["dist_img"]],
            "dataset": "synthetic",
            "mos": labels["dmos"],
            "split": "train",
        }
    )
    validated_path(root, "synthetic").parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(validated_path(root, "synthetic"))
    tiny.build(root / "models" / "tiny", seed=seed, warmup_steps=warmup_steps)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument(
        "--images", type=int, default=4, help="images per ranking group (one group per update)"
    )
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup-steps", type=int, default=150)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vqr1-learning-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        workspace(root, args.warmup_steps, args.seed)
        raw = deep_merge(read_yaml(REPO / "params.yaml"), read_yaml(REPO / "configs" / "demo.yaml"))
        raw = deep_merge(
            raw,
            {
                "seed": args.seed,
                "train": {
                    "images_per_group": args.images,
                    "images_per_update": args.images,
                    "grpo": {
                        "max_steps": args.steps,
                        "save_steps": 10**9,
                        "num_generations": args.k,
                        "learning_rate": args.lr,
                        "num_train_epochs": 100,
                    },
                },
            },
        )
        params = Params.model_validate(raw)
        setup_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        grpo.train_workspace(root, params)
        train_s = time.perf_counter() - t0
        plots = root / "dvclive" / "plots" / "metrics"
        series = {
            name: pd.read_csv(plots / f"{path}.tsv", sep="\t").iloc[:, -1].tolist()
            for name, path in (
                ("ranking", "rewards/fidelity/mean"),
                ("format", "rewards/format/mean"),
                ("parse_failure_rate", "parse_failure_rate"),
            )
        }
    w = args.window
    result: dict[str, object] = {
        f"{name}_first{w}": round(statistics.mean(values[:w]), 4) for name, values in series.items()
    }
    result.update(
        {f"{name}_last{w}": round(statistics.mean(values[-w:]), 4) for name, values in series.items()}
    )
    first, last = series["ranking"][:w], series["ranking"][-w:]
    result["ranking_change"] = round(statistics.mean(last) - statistics.mean(first), 4)
    # standard error of that difference from the step-to-step spread: a change within ~2 SE is noise
    result["ranking_change_se"] = round(
        (statistics.variance(first) / len(first) + statistics.variance(last) / len(last)) ** 0.5, 4
    )
    result.update(steps=args.steps, images=args.images, k=args.k, lr=args.lr, seed=args.seed)
    result.update(setup_s=round(setup_s, 1), train_s=round(train_s, 1))
    result["method"] = (
        f"format-warmed tiny Qwen2.5-VL, synthetic set (240 images, 128x96), vqr1.train.grpo.train_workspace with the demo profile "
        f"and B={args.images}, K={args.k}; means of the dvclive per-step logs over the first and last {w} steps"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
