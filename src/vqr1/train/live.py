"""Training metrics with dvclive: transformers' DVCLiveCallback on the trainer's step, resumable.

dvclive's step is the trainer's global step, so a resumed run continues the same x axis; dvc.yaml
declares the metrics and plots, so dvclive writes no dvc.yaml of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vqr1 import layout
from vqr1.fsutil import atomic_path


def trim_dvclive(folder: Path, last_step: int) -> None:
    """Drop plot rows logged after ``last_step``: a killed run may have logged steps past its last
    checkpoint, and the resumed run logs those steps again."""
    import pandas as pd

    for tsv in (Path(folder) / "plots" / "metrics").rglob("*.tsv"):
        rows = pd.read_csv(tsv, sep="\t")
        if "step" in rows and (rows["step"] > last_step).any():
            with atomic_path(tsv) as tmp:
                rows[rows["step"] <= last_step].to_csv(tmp, sep="\t", index=False)


def dvclive_callback(root: Path, resume_step: int | None) -> Any:
    """The callback logging to ``root/dvclive``; resuming at ``resume_step`` first drops rows logged after it."""
    from dvclive import Live
    from transformers.integrations import DVCLiveCallback

    folder = Path(root) / layout.DVCLIVE_DIR
    if resume_step is not None:
        trim_dvclive(folder, resume_step)

    class StepDVCLiveCallback(DVCLiveCallback):
        def on_log(self, args, state, control, model=None, logs=None, **kwargs):  # type: ignore[no-untyped-def]
            if self.live is not None and state.is_world_process_zero:
                self.live.step = state.global_step
            super().on_log(args, state, control, model=model, logs=logs, **kwargs)

    class StudioOffLive(Live):
        """dvclive packs every step's data for DVC Studio (re-reading params.yaml and every plot's whole TSV)
        before it checks whether Studio is configured (treeverse/dvclive#860): 65 ms a step on average over a
        100-step run on a 2-core CPU, and growing with the step. Without Studio there is nothing to pack."""

        def post_data_to_studio(self) -> None:
            if "data" not in self._studio_events_to_skip:
                super().post_data_to_studio()

    live = StudioOffLive(
        dir=str(folder), resume=resume_step is not None, save_dvc_exp=False, dvcyaml=None, report=None
    )
    return StepDVCLiveCallback(live=live)
