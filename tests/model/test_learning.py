"""The training loop learns: with a known quality signal in the prompt, GRPO raises the held-out SRCC.

The positive control of docs/learning.md, on the real train stage (TRL GRPOTrainer, the ranking reward,
the sampler) with the format-warmed tiny model: each prompt names its image's MOS band in words
(``train.mos_hint``), and the held-out SRCC (``vqr1.train.heldout``, sampled answers on images of references
never trained on) must rise from chance within a few minutes on the CPU. It isolates the loop
(sampled scores -> reward -> group advantages -> update) from the tiny model's image pathway.
"""

from __future__ import annotations

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

STEPS = 80


@pytest.fixture(scope="module")
def learn_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The learning profile's synthetic set (24 references): few references would let a run rank the
    training images by recognising their reference (the synthetic MOS has a per-reference offset)."""
    root = tmp_path_factory.mktemp("learn-set")
    synth.build(root, synth.SynthSpec(references=24, width=112, height=84), workers=2, progress=False)
    return root


@pytest.mark.slow
def test_mos_hint_is_learned_and_raises_heldout_srcc(
    tmp_path: Path, learn_set: Path, warm_model_dir: Path
) -> None:
    frame = write_validated(tmp_path, learn_set, "synthetic")
    refs = sorted(frame["ref_id"].unique())
    frame["split"] = ["test" if r in refs[-5:] else "train" for r in frame["ref_id"]]  # held out by reference
    frame.to_parquet(validated_path(tmp_path, "synthetic"))
    shutil.copytree(warm_model_dir, tmp_path / "models" / "tiny")
    overrides = {
        "train": {
            "mos_hint": True,
            "heldout": {"every": STEPS, "max_images": 90},
            "grpo": {"max_steps": STEPS, "save_steps": STEPS},
        },
    }
    overlay = tmp_path / "overrides.yaml"
    overlay.write_text(yaml.safe_dump(overrides))
    overlays = [REPO / "configs" / "demo.yaml", REPO / "configs" / "learn.yaml", overlay]
    params = load_params(REPO / "params.yaml", overlays)
    raw = read_yaml(REPO / "params.yaml")
    for path in overlays:
        raw = deep_merge(raw, read_yaml(path))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))

    out = grpo.train_workspace(tmp_path, params)

    state = yaml.safe_load((out / "checkpoints" / f"checkpoint-{STEPS}" / "trainer_state.json").read_text())
    curve = {e["step"]: e["heldout_srcc"] for e in state["log_history"] if "heldout_srcc" in e}
    parsed = [e["heldout_parsed"] for e in state["log_history"] if "heldout_parsed" in e]
    assert sorted(curve) == [0, STEPS]
    assert min(parsed) > 0.9  # the warm-up's format holds
    assert curve[0] < 0.3  # the hint means nothing to the model before RL
    # seeds 1, 2 and 42 of this profile reached 0.84, 0.74 and 0.84 (docs/learning.md: the runs behind K = 8)
    assert curve[STEPS] > 0.35 and curve[STEPS] - curve[0] > 0.3, curve
