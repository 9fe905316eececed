"""The model card: Hugging Face front matter that names the library loading the weights, data digests, curve."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from tests.conftest import REPO
from vqr1.config import load_params
from vqr1.fsutil import sha256_file
from vqr1.layout import validated_path
from vqr1.train import modelcard

LOG = [
    {"step": 1, "reward": 0.5, "rewards/fidelity/mean": 0.4},
    {"step": 2, "reward": 0.75, "rewards/fidelity/mean": 0.6},
]


@pytest.mark.parametrize(
    ("tuning", "library"), [("lora", "peft"), ("lora_vision", "peft"), ("full", "transformers")]
)
def test_card_front_matter_names_the_loading_library(tmp_path: Path, tuning: str, library: str) -> None:
    params = load_params(REPO / "params.yaml", [REPO / "configs" / "demo.yaml"])
    params = params.model_copy(update={"train": params.train.model_copy(update={"tuning": tuning})})
    manifest = validated_path(tmp_path, "synthetic")
    manifest.parent.mkdir(parents=True)
    manifest.write_bytes(b"validated rows")
    run = tmp_path / "models" / "demo"
    run.mkdir(parents=True)

    card = ModelCard.load(modelcard.write(run, params, tmp_path, LOG, global_step=2))

    assert card.data.library_name == library and card.data.base_model == "models/tiny"
    assert card.data.tags == ["vqr1", "grpo", "iqa"]
    assert f"`synthetic`: `{sha256_file(manifest)}`" in card.text
    assert "| reward | 0.5000 | 0.7500 |" in card.text
    assert (run / "reward_curve.png").stat().st_size > 1000
