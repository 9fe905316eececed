"""The one config loader: committed params validate; overlays merge; mistakes name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vqr1.config import deep_merge, load_params
from vqr1.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_committed_params_are_the_paper_recipe() -> None:
    p = load_params(REPO / "params.yaml")
    t = p.train
    assert (t.num_generations, t.images_per_batch, t.learning_rate, t.beta, t.epsilon) == (
        6,
        8,
        1e-6,
        0.04,
        0.2,
    )
    assert (t.temperature, t.top_k, t.top_p, t.max_completion_length, t.num_train_epochs) == (
        1.0,
        50,
        1.0,
        256,
        10,
    )
    assert p.seed == 42 and p.data.train_datasets == ["kadid10k"] and len(p.data.eval_datasets) == 8


def test_demo_overlay_validates() -> None:
    p = load_params(REPO / "params.yaml", [REPO / "configs/demo.yaml"])
    assert p.data.datasets == ["synthetic"] and p.model.base == "models/tiny"
    assert p.train.lora.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert p.train.beta == 0.04  # untouched keys keep the paper values


def test_deep_merge_replaces_leaves_and_lists() -> None:
    assert deep_merge({"a": {"b": 1, "c": [1]}}, {"a": {"c": [2]}}) == {"a": {"b": 1, "c": [2]}}


def test_unknown_key_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "over.yaml"
    bad.write_text("train:\n  learning_rat: 0.1\n")
    with pytest.raises(ConfigError, match="learning_rat"):
        load_params(REPO / "params.yaml", [bad])


def test_malformed_yaml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "params.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match=r"params\.yaml"):
        load_params(bad)


def test_released_profile_evaluates_the_authors_checkpoint_without_training() -> None:
    """configs/released.yaml: the released 7B as the base model, the eight test sets, native resolution."""
    params = load_params(REPO / "params.yaml", [REPO / "configs/released.yaml"])
    assert params.model.base == "TianheWu/VisualQuality-R1-7B"
    assert params.data.train_datasets == [] and params.data.datasets == params.data.eval_datasets
    assert sorted(params.data.eval_datasets) == sorted(load_params(REPO / "params.yaml").data.eval_datasets)
    assert params.evaluate.max_pixels is None and params.data.labels == "reference"
