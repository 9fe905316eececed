"""The dvclive logger of the train stage: each step lands in the plots, and nothing is packed for DVC Studio
when Studio is not configured (dvclive would otherwise re-read its params and every plot file each step)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from vqr1 import layout


def test_each_step_is_logged_and_nothing_is_packed_for_studio_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # imported here, not at every xdist worker's collection
    import dvclive.live
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from vqr1.train.live import dvclive_callback

    for name in ("DVC_STUDIO_TOKEN", "STUDIO_TOKEN", "DVC_STUDIO_REPO_URL"):
        monkeypatch.delenv(name, raising=False)
    packed: list[int] = []
    pack = dvclive.live.Live._get_live_data
    monkeypatch.setattr(
        dvclive.live.Live, "_get_live_data", lambda live: packed.append(live.step) or pack(live)
    )

    callback = dvclive_callback(tmp_path, resume_step=None)
    args = TrainingArguments(output_dir=str(tmp_path / "out"))
    state, control = TrainerState(), TrainerControl()
    callback.on_train_begin(args, state, control)
    for step in (1, 2, 3):
        state.global_step = step
        callback.on_log(args, state, control, logs={"loss": 1.0 / step})
    callback.on_train_end(args, state, control)

    rows = pd.read_csv(tmp_path / layout.DVCLIVE_DIR / "plots" / "metrics" / "loss.tsv", sep="\t")
    assert rows["step"].tolist() == [1, 2, 3] and rows["loss"].tolist() == pytest.approx([1.0, 0.5, 1 / 3])
    assert packed == []
