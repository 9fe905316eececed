"""Resuming training: the newest complete checkpoint, only when it was made from the same params and data.

Checkpoints record a fingerprint of everything that shapes the trajectory (params and data hashes);
a rerun resumes only when it matches, so changed params never continue a stale run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console

from vqr1.config import Params
from vqr1.fsutil import atomic_write_text

console = Console(stderr=True, soft_wrap=True)  # paths in messages stay whole (no wrapping)
FINGERPRINT = "fingerprint.json"
# Changing these continues the same run rather than starting a new one (train.* and train.grpo.*).
RESUMABLE_KEYS = {"merge_weights"}
RESUMABLE_GRPO_KEYS = {"max_steps", "num_train_epochs", "save_steps", "save_total_limit", "logging_steps"}


def fingerprint(params: Params, data_versions: dict[str, str]) -> dict[str, Any]:
    """What a checkpoint must match to be resumed: the params that shape training, and the data hashes."""
    train = {k: v for k, v in params.train.model_dump().items() if k not in RESUMABLE_KEYS}
    train["grpo"] = {k: v for k, v in params.train.grpo.items() if k not in RESUMABLE_GRPO_KEYS}
    return {"seed": params.seed, "model": params.model.model_dump(), "train": train, "data": data_versions}


def checkpoint_step(checkpoint: Path) -> int:
    return int(json.loads((checkpoint / "trainer_state.json").read_text())["global_step"])


def last_checkpoint(checkpoints: Path) -> Path | None:
    """The newest ``checkpoint-N`` whose trainer_state.json exists (written last, so the save completed)."""
    done = [p for p in checkpoints.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    done = [p for p in done if p.name.removeprefix("checkpoint-").isdigit()]
    return max(done, key=lambda p: int(p.name.removeprefix("checkpoint-")), default=None)


def resume_point(checkpoints: Path, expected: dict[str, Any]) -> Path | None:
    """The checkpoint to resume from; stale checkpoints (other params or data) are removed."""
    stamp = checkpoints / FINGERPRINT
    if checkpoints.is_dir() and any(checkpoints.glob("checkpoint-*")):
        recorded = json.loads(stamp.read_text()) if stamp.is_file() else None
        if recorded == json.loads(json.dumps(expected)):
            return last_checkpoint(checkpoints)
        console.print(f"[yellow]{checkpoints}: checkpoints from other params or data, starting afresh[/]")
        shutil.rmtree(checkpoints)
    checkpoints.mkdir(parents=True, exist_ok=True)
    atomic_write_text(stamp, json.dumps(expected, indent=2, sort_keys=True))
    return None
