"""The model card written next to the adapter: base model, params, data versions and the reward curve.

Why: an adapter folder alone does not say what it was trained on or how; the card makes a published
run reproducible (exact params, sha256 of every validated manifest) and shows whether the ranking
reward rose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import ModelCard, ModelCardData

from vqr1.config import Params
from vqr1.fsutil import atomic_path, atomic_write_text, sha256_file
from vqr1.layout import validated_path, weights_name
from vqr1.markdown import table

CURVE_KEYS = ("reward", "reward_std")


def data_versions(root: Path, datasets: list[str]) -> dict[str, str]:
    """sha256 of each validated manifest the run trained on."""
    return {name: sha256_file(validated_path(root, name)) for name in datasets}


def reward_series(
    log_history: list[dict[str, Any]], reward_names: list[str]
) -> dict[str, list[tuple[int, float]]]:
    """(step, value) per logged reward metric, from ``trainer.state.log_history``."""
    keys = [*CURVE_KEYS, *(f"rewards/{n}/mean" for n in reward_names)]
    return {
        key: [(int(e["step"]), float(e[key])) for e in log_history if key in e and "step" in e]
        for key in keys
    }


def plot_rewards(series: dict[str, list[tuple[int, float]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key, points in series.items():
        if points and key != "reward_std":
            steps, values = zip(*points, strict=True)
            ax.plot(steps, values, label=key, marker="." if len(points) < 30 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("mean reward")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write(
    run_dir: Path, params: Params, root: Path, log_history: list[dict[str, Any]], global_step: int
) -> Path:
    """Write ``run_dir/README.md`` and ``run_dir/reward_curve.png``."""
    series = reward_series(log_history, params.train.reward_funcs)
    plot_rewards(series, run_dir / "reward_curve.png")
    versions = data_versions(root, params.data.train_datasets)
    first_last = {
        key: (points[0][1], points[-1][1]) for key, points in series.items() if points and key != "reward_std"
    }
    full = params.train.tuning == "full"
    weights = f"{weights_name(params.train)}/" + ("" if full else " (PEFT LoRA)")
    metadata = ModelCardData(
        base_model=params.model.base,
        library_name="transformers" if full else "peft",  # which library loads models/<run>/<weights>
        tags=["vqr1", "grpo", "iqa"],
    )
    lines = [
        f"# vqr1 run `{params.train.run_name}`",
        "",
        "VisualQuality-R1-style reasoning image-quality model: GRPO with the RL2R ranking reward.",
        "",
        f"- base model: `{params.model.base}`",
        f"- weights: `{weights}`; tuning: `{params.train.tuning}`",
        f"- steps trained: {global_step}",
        f"- rewards: {', '.join(params.train.reward_funcs)} (weights {params.train.grpo.get('reward_weights', 'all 1')})",
        "",
        "## Data (validated manifests, sha256)",
        "",
        *(f"- `{name}`: `{digest}`" for name, digest in versions.items()),
        "",
        "## Reward curve",
        "",
        "![reward curve](reward_curve.png)",
        "",
        table(
            ["metric", "first logged", "last logged"],
            ([key, f"{a:.4f}", f"{b:.4f}"] for key, (a, b) in first_last.items()),
        ),
        "",
        "## Params",
        "",
        "```yaml",
        yaml.safe_dump(
            {
                "seed": params.seed,
                "model": params.model.model_dump(),
                "train": params.train.model_dump(),
                "data": {"train_datasets": params.data.train_datasets},
            },
            sort_keys=False,
        ).strip(),
        "```",
        "",
    ]
    card = run_dir / "README.md"
    atomic_write_text(card, str(ModelCard(f"---\n{metadata.to_yaml()}\n---\n" + "\n".join(lines))))
    return card
