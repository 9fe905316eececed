"""The training loop learns: with a known quality signal in the prompt, GRPO raises the held-out SRCC.

The positive control of docs/learning.md, on the real train stage (TRL GRPOTrainer, the ranking reward, the
sampler) with the format-warmed tiny model and the learning profile (configs/learn.yaml): each prompt names
its image's MOS band in words (``train.mos_hint``), and the held-out figures (``vqr1.train.heldout``: sampled
answers on images of references never trained on) must rise from chance within a few minutes on the CPU. It
isolates the loop (sampled scores -> reward -> group advantages -> update) from the tiny model's image
pathway. The trained model then passes the behavioural check (vqr1.evaluate.behaviour): on the held-out
references, a more distorted copy scores lower than a milder copy of the same distortion.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.data.test_training_view import write_validated
from vqr1.config import deep_merge, load_params, read_yaml
from vqr1.data import synth
from vqr1.layout import validated_path
from vqr1.train import grpo

HELD_OUT_REFERENCES = 5


@pytest.fixture(scope="module")
def learn_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The learning profile's synthetic set (24 references): few references would let a run rank the
    training images by recognising their reference (the synthetic MOS has a per-reference offset)."""
    root = tmp_path_factory.mktemp("learn-set")
    synth.build(root, synth.SynthSpec(references=24, width=112, height=84), workers=2, progress=False)
    return root


@pytest.mark.slow
def test_mos_hint_is_learned_on_held_out_references(
    tmp_path: Path, learn_set: Path, warm_model_dir: Path
) -> None:
    frame = write_validated(tmp_path, learn_set, "synthetic")
    refs = sorted(frame["ref_id"].unique())
    held_out = refs[-HELD_OUT_REFERENCES:]
    frame["split"] = ["test" if r in held_out else "train" for r in frame["ref_id"]]
    frame.to_parquet(validated_path(tmp_path, "synthetic"))
    shutil.copytree(warm_model_dir, tmp_path / "models" / "tiny")
    overlays = [REPO / "configs" / "demo.yaml", REPO / "configs" / "learn.yaml"]
    raw = read_yaml(REPO / "params.yaml")
    for path in overlays:
        raw = deep_merge(raw, read_yaml(path))
    steps = raw["train"]["grpo"]["max_steps"]
    raw = deep_merge(raw, {"train": {"mos_hint": True, "heldout": {"every": steps}}})  # before and after
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    params = load_params(tmp_path / "params.yaml")

    out = grpo.train_workspace(tmp_path, params)

    state = json.loads((out / "checkpoints" / f"checkpoint-{steps}" / "trainer_state.json").read_text())
    logged = [e for e in state["log_history"] if "heldout_srcc" in e]
    before, after = logged[0], logged[-1]
    assert (before["step"], after["step"]) == (0, steps)
    assert min(e["heldout_parsed"] for e in logged) > 0.9  # the warm-up's format holds
    assert before["heldout_srcc"] < 0.3  # the hint means nothing to the model before RL
    assert after["heldout_srcc"] > 0.35 and after["heldout_srcc"] - before["heldout_srcc"] > 0.3, logged
    # behavioural: graded copies of the held-out references now mostly ordered (0.5 is chance)
    assert after["heldout_ordered"] > 0.65, logged
