"""Publishing a trained run: the weights folder swapped in whole, and base + adapter merged for serving.

Both carry the scoring settings (``vqr1-scoring.json``, :mod:`vqr1.inference.settings`), so the model is scored
the way it was evaluated wherever it goes (``vqr1.load``, ``vqr1 score --model``, ``vqr1 serve``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from vqr1.config import Params
from vqr1.fsutil import atomic_dir, replace_dir
from vqr1.inference import settings as scoring


def publish(trainer: Any, target: Path, params: Params) -> None:
    """Save the trained weights + processor + scoring settings into a staging folder beside ``target`` and
    swap it in whole.

    Every rank saves into the same staging path (ZeRO-3 gathers the shards), so it is a fixed name rather
    than :func:`vqr1.fsutil.atomic_dir`'s random one; the swap itself is the same :func:`replace_dir`."""
    staging = target.with_name(f".{target.name}.partial")
    if trainer.accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(staging))
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        scoring.write(staging, scoring.from_params(params))
        replace_dir(staging, target)


def export_merged(params: Params, adapter: Path, out: Path) -> Path:
    """Base + adapter merged into plain weights (for serving without PEFT), with the processor."""
    from vqr1.model.loading import load_model, load_processor

    model = load_model(params.model, adapter=adapter, device="cpu")
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        load_processor(adapter, params.model).save_pretrained(tmp)
        scoring.write(tmp, scoring.from_params(params))
    return out
