"""Held-out SRCC during training: is the policy getting better at ranking images it never trains on?

Every ``train.heldout.every`` steps the callback samples ``samples`` completions per held-out image (the
``val`` split by default) from the current policy, with the training sampling settings, and logs the SRCC
between the median parsed score and the MOS as ``heldout_srcc``, the share of parsed answers as
``heldout_parsed`` and, on sets named like KADID-10K, the behavioural check of :mod:`vqr1.behaviour`
(graded copies of one reference: the more distorted scored lower) as ``heldout_ordered``. Sampled, not greedy: several samples are what the ranking reward sees, and a greedy
answer of a barely trained model is one canned value for every image. The median, so that one absurd
answer (10^5) does not decide an image's rank. It draws from a random stream of its own
(:func:`own_random_stream`), so how often a run is measured does not change the run.

The figure is added to the trainer's log of that step, so dvclive, the console and ``log_history`` (the
model card) all carry it; place this callback before the dvclive one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from transformers import TrainerCallback

from vqr1.behaviour import ordered_pairs
from vqr1.config import Params
from vqr1.data.training_view import prompts, split_rows
from vqr1.data.validated import subset
from vqr1.inference.backends import sample_completions
from vqr1.inference.images import load_image
from vqr1.parsing import parse_score
from vqr1.train.resume import last_checkpoint

BATCH_IMAGES = 16


@contextmanager
def own_random_stream(model: Any, seed: int) -> Iterator[None]:
    """Sample from a stream of its own, seeded with ``seed``, and hand the training's stream back untouched.

    A measurement must not move what it measures: drawing from the global generator would shift every later
    training sample, so a run measured every 20 steps and the same run measured only at its end would follow
    different trajectories. Seeded alike at every measurement, the steps of a curve also differ by the model,
    not by the draw."""
    devices = [model.device] if model.device.type != "cpu" else []
    with torch.random.fork_rng(devices=devices, device_type=model.device.type if devices else "cuda"):
        torch.manual_seed(seed)
        yield


class HeldOutSRCC(TrainerCallback):
    """Logs ``heldout_srcc`` (and ``heldout_parsed``, ``heldout_ordered``) every ``every`` optimizer steps
    (main process only)."""

    def __init__(self, rows: pd.DataFrame, params: Params) -> None:
        self.rows, self.params = rows, params
        self.pending: dict[str, float] = {}

    @classmethod
    def from_workspace(cls, root: Path, params: Params) -> HeldOutSRCC:
        """The held-out rows of the training datasets: a seeded subset of ``max_images``, over every reference."""
        h = params.train.heldout
        rows = split_rows(root, params.data.train_datasets, h.split)
        return cls(subset(rows, h.max_images, params.seed), params)

    def measure(self, model: Any, processor: Any, sampling: dict[str, Any]) -> dict[str, float]:
        """SRCC of the median of ``samples`` sampled scores against the MOS, and the share of parsed answers.

        ``sampling``: generate() keywords (temperature, top_p, top_k, max_new_tokens)."""
        t = self.params.train
        h = t.heldout
        texts = [
            processor.apply_chat_template(p, add_generation_prompt=True)
            for p in prompts(self.rows["mos"], t.thinking, t.mos_hint)
        ]
        medians, parsed = [], 0
        was_training = model.training
        model.eval()
        try:
            with own_random_stream(model, self.params.seed):
                for start in range(0, len(self.rows), BATCH_IMAGES):
                    stop = start + BATCH_IMAGES
                    images = [load_image(Path(p)) for p in self.rows["image"][start:stop]]
                    completions = sample_completions(
                        model, processor, texts[start:stop], images, h.samples, do_sample=True, **sampling
                    )
                    for texts_of_image in completions:
                        scores = [s for s in map(parse_score, texts_of_image) if s is not None]
                        parsed += len(scores)
                        medians.append(float(np.median(scores)) if scores else math.nan)
        finally:
            model.train(was_training)
        pred = np.asarray(medians)
        ok = np.isfinite(pred)
        mos = self.rows["mos"].to_numpy()
        srcc = float(spearmanr(pred[ok], mos[ok]).statistic) if ok.sum() > 2 else math.nan
        figures = {"heldout_srcc": srcc, "heldout_parsed": parsed / (len(self.rows) * h.samples)}
        ordered = ordered_pairs(pred, self.rows["image"].tolist()).get("ordered_pairs")
        return figures | ({} if ordered is None else {"heldout_ordered": ordered})

    def _measure_now(self, args: Any, model: Any, processor: Any) -> dict[str, float]:
        sampling = {
            "temperature": args.temperature,
            "top_p": args.top_p,
            "top_k": args.top_k,
            "max_new_tokens": args.max_completion_length,
        }
        return self.measure(model, processor, sampling)

    def on_train_begin(self, args, state, control, model=None, processing_class=None, **kwargs):  # type: ignore[no-untyped-def]
        """The starting point of the curve, as a record of its own in ``log_history``."""
        if state.is_world_process_zero:
            state.log_history.append(
                {"step": state.global_step, **self._measure_now(args, model, processing_class)}
            )

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):  # type: ignore[no-untyped-def]
        if state.is_world_process_zero and state.global_step % self.params.train.heldout.every == 0:
            self.pending = self._measure_now(args, model, processing_class)
            control.should_log = True

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if self.pending and logs is not None:
            logs.update(self.pending)
            if state.log_history and state.log_history[-1].get("step") == state.global_step:
                state.log_history[-1].update(self.pending)
            self.pending = {}


def heldout_records(run_dir: Path) -> dict[int, dict[str, float]]:
    """The held-out figures (``heldout_*``) by step (step 0: before training) of the run whose output is
    ``run_dir`` (models/<run>), from its last checkpoint's ``log_history``; empty when none was logged.
    SRCC is NaN where every held-out image got the same answer (no ranking)."""
    checkpoint = last_checkpoint(run_dir / "checkpoints")
    if checkpoint is None:
        return {}
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return {
        int(e["step"]): {k: float(v) for k, v in e.items() if k.startswith("heldout_")}
        for e in state["log_history"]
        if "heldout_srcc" in e
    }


def heldout_curve(run_dir: Path) -> dict[int, float]:
    """Held-out SRCC by step (see :func:`heldout_records`)."""
    return {step: figures["heldout_srcc"] for step, figures in heldout_records(run_dir).items()}


# The negative control (shuffled labels) must stay below this held-out SRCC: 2.8 standard errors above 0 for
# 64 images, and far below the positive control's bar.
NOT_LEARNED_BELOW = 0.35


def learned_no_ranking(after: dict[str, float]) -> bool:
    """The negative control's bar on its last held-out record: SRCC below ``NOT_LEARNED_BELOW``, where one
    answer for every image (NaN) is no ranking. The suite's negative control and `make control --negative`."""
    srcc = after["heldout_srcc"]
    return (0.0 if math.isnan(srcc) else srcc) < NOT_LEARNED_BELOW


@dataclass(frozen=True)
class LearnedBar:
    """When a control run learned its signal, judged on its first and last held-out records. The suite's
    learning test and `make control` judge by this one bar, and make control's seed-42 run under a kernel set
    is the test's own run on a machine with those kernels (the same trajectory, step for step).
    The format bounds come from make control's runs (docs/learning.md): 0.75-0.98 of the sampled answers
    parsed after the format warm-up, 0.96-1.0 after training; graded pairs ordered 0.62-0.88 in runs that
    learned and 0.41-0.46 in runs that did not (chance: 0.5)."""

    min_gain: float = 0.3
    min_after: float = 0.5
    min_parsed_before: float = 0.6
    min_parsed_after: float = 0.9
    min_ordered: float = 0.55

    def shortfalls(self, before: dict[str, float], after: dict[str, float]) -> list[str]:
        """What the run lacks to count as learned; empty when it learned."""
        out = []
        first, last = before["heldout_srcc"], after["heldout_srcc"]
        if math.isnan(last):
            out.append("collapsed: every held-out image got one answer")
        elif last <= self.min_after or last - (0.0 if math.isnan(first) else first) < self.min_gain:
            out.append(
                f"held-out SRCC {first:.3f} -> {last:.3f}: not up by {self.min_gain} to above {self.min_after}"
            )
        if before["heldout_parsed"] <= self.min_parsed_before:
            out.append(f"{before['heldout_parsed']:.3f} of the answers parsed before training")
        if after["heldout_parsed"] <= self.min_parsed_after:
            out.append(f"{after['heldout_parsed']:.3f} of the answers parsed after training")
        ordered = after.get("heldout_ordered", math.nan)
        if not ordered > self.min_ordered:
            out.append(f"graded pairs ordered: {ordered:.3f}, needs above {self.min_ordered}")
        return out
