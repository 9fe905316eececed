"""The one config loader: committed params validate; overlays merge; mistakes name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vqr1.config import deep_merge, load_params, read_yaml
from vqr1.dvc_runner import run_dvc
from vqr1.errors import ConfigError
from vqr1.train.trainer_config import grpo_config

REPO = Path(__file__).resolve().parents[2]


def test_committed_params_are_the_paper_recipe(tmp_path: Path) -> None:
    """SPEC §1 as TRL receives it: the GRPOConfig built from the committed params.yaml."""
    p = load_params(REPO / "params.yaml")
    assert p.seed == 42 and p.data.train_datasets == ["kadid10k"] and len(p.data.eval_datasets) == 8
    assert p.train.images_per_group == 8 and p.train.images_per_update == 128
    assert p.train.unparsable == "skip" and (p.train.lora.r, p.train.lora.alpha) == (64, 32)
    args = grpo_config(p, tmp_path, num_processes=1)
    recipe = {
        "num_generations": 6,
        "per_device_train_batch_size": 48,  # one ranking group: 8 images x K=6 completions
        "gradient_accumulation_steps": 16,  # 128 images per update on one process
        "steps_per_generation": 16,  # one generation per update (TRL's default)
        "learning_rate": 1e-5,  # LoRA: about 10x the paper's full-fine-tuning 1e-6 (docs/gpu.md)
        "beta": 0.04,
        "use_bias_correction_kl": False,  # the reference's plain k3 estimator
        "epsilon": 0.2,
        "loss_type": "grpo",
        "scale_rewards": "group",
        "num_iterations": 1,
        "temperature": 1.0,
        "top_k": 50,
        "top_p": 1.0,
        "max_completion_length": 256,
        "num_train_epochs": 10,
        "max_steps": -1,
        "reward_weights": [1.0, 1.0],
        "seed": 42,
        "data_seed": 42,
        "activation_checkpointing": True,
        "remove_unused_columns": False,
        "output_dir": str(tmp_path),
    }
    assert {key: getattr(args, key) for key in recipe} == recipe


def _overlay(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "over.yaml"
    path.write_text(text)
    return path


def test_any_trl_option_reaches_grpo_config_without_a_code_change(tmp_path: Path) -> None:
    # mask_truncated_completions and log_completions appear nowhere in vqr1: they pass through
    over = _overlay(
        tmp_path, "train:\n  grpo:\n    mask_truncated_completions: true\n    log_completions: true\n"
    )
    args = grpo_config(load_params(REPO / "params.yaml", [over]), tmp_path)
    assert args.mask_truncated_completions is True and args.log_completions is True
    assert grpo_config(load_params(REPO / "params.yaml"), tmp_path).mask_truncated_completions is False


def test_misspelt_trl_option_fails_with_its_name(tmp_path: Path) -> None:
    over = _overlay(tmp_path, "train:\n  grpo:\n    learning_rat: 0.1\n")
    params = load_params(REPO / "params.yaml", [over])
    with pytest.raises(ConfigError, match=r"train\.grpo\.learning_rat: .*did you mean 'learning_rate'"):
        grpo_config(params, tmp_path)


def test_trl_refusal_and_vqr1_managed_options_are_config_errors(tmp_path: Path) -> None:
    one = _overlay(tmp_path, "train:\n  grpo:\n    num_generations: 1\n")
    with pytest.raises(ConfigError, match="at least 2 generations"):
        grpo_config(load_params(REPO / "params.yaml", [one]), tmp_path)
    managed = _overlay(tmp_path, "train:\n  grpo:\n    per_device_train_batch_size: 4\n")
    with pytest.raises(ConfigError, match=r"train\.grpo\.per_device_train_batch_size is set by vqr1"):
        load_params(REPO / "params.yaml", [managed])


def test_demo_overlay_validates() -> None:
    p = load_params(REPO / "params.yaml", [REPO / "configs/demo.yaml"])
    assert p.data.datasets == ["synthetic"] and p.model.base == "models/tiny"
    assert p.train.lora.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert p.train.grpo["num_generations"] == 4 and p.train.images_per_group == p.train.images_per_update == 2
    assert p.train.grpo["beta"] == 0.04  # untouched keys keep the paper values


@pytest.mark.parametrize(("processes", "accumulation"), [(1, 16), (2, 8), (8, 2), (16, 1)])
def test_update_is_128_images_in_groups_of_8_on_any_process_count(
    tmp_path: Path, processes: int, accumulation: int
) -> None:
    args = grpo_config(load_params(REPO / "params.yaml"), tmp_path, num_processes=processes)
    assert args.per_device_train_batch_size == 8 * 6
    assert args.gradient_accumulation_steps == accumulation
    assert 8 * processes * args.gradient_accumulation_steps == 128


def test_update_of_a_fraction_of_a_group_or_step_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"multiple of train\.images_per_group"):
        load_params(REPO / "params.yaml", [_overlay(tmp_path, "train:\n  images_per_update: 100\n")])
    with pytest.raises(ConfigError, match="not a whole number of steps of 3 process"):
        grpo_config(load_params(REPO / "params.yaml"), tmp_path, num_processes=3)
    managed = _overlay(tmp_path, "train:\n  grpo:\n    gradient_accumulation_steps: 4\n")
    with pytest.raises(ConfigError, match=r"train\.grpo\.gradient_accumulation_steps is set by vqr1"):
        load_params(REPO / "params.yaml", [managed])


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


def test_score_clip_is_off_in_the_paper_recipe_and_must_be_an_interval(tmp_path: Path) -> None:
    assert load_params(REPO / "params.yaml").train.score_clip is None
    clip = load_params(REPO / "params.yaml", [_overlay(tmp_path, "train: {score_clip: [1, 5]}")])
    assert clip.train.score_clip == (1.0, 5.0)
    with pytest.raises(ConfigError, match="score_clip"):
        load_params(REPO / "params.yaml", [_overlay(tmp_path, "train: {score_clip: [5, 1]}")])


def test_controls_are_off_in_every_recipe_and_heldout_settings_are_checked(tmp_path: Path) -> None:
    for recipe in [REPO / "params.yaml", *sorted((REPO / "configs").glob("*.yaml"))]:
        raw = read_yaml(recipe).get("train", {})
        assert not raw.get("mos_hint") and not raw.get("shuffle_mos"), recipe.name
    with pytest.raises(ConfigError, match=r"train\.heldout"):
        load_params(REPO / "params.yaml", [_overlay(tmp_path, "train: {heldout: {every: 5, max_images: 2}}")])
    with pytest.raises(ConfigError, match="split"):
        load_params(REPO / "params.yaml", [_overlay(tmp_path, "train: {heldout: {split: train}}")])


def test_gpu_preset_makes_a_workspace(tmp_path: Path) -> None:
    """`vqr1 workspace init DIR --overlay configs/paper-16gpu.yaml`: the paper recipe with that preset's accelerate
    config, validated, ready for `dvc repro` (every preset's schedule: tests/model/test_train_sampler.py)."""
    from typer.testing import CliRunner

    from vqr1.cli import app

    dest = tmp_path / "paper-16gpu"
    result = CliRunner().invoke(
        app, ["workspace", "init", str(dest), "--overlay", "configs/paper-16gpu.yaml"]
    )
    assert result.exit_code == 0, result.output
    p = load_params(dest / "params.yaml")
    assert (p.train.images_per_group, p.train.images_per_update) == (8, 128)
    assert (
        p.train.accelerate_config == "configs/accelerate/multi_node_ddp.yaml"
        and (dest / "dvc.yaml").is_file()
    )
    assert p.train.grpo == load_params(REPO / "params.yaml").train.grpo  # nothing else changes
    # DVC itself reads the workspace as initialised, with no analytics and no update check
    listed = run_dvc(dest, "config", "--list", "--project").split()
    assert {"core.no_scm=True", "core.analytics=False", "core.check_update=False"} <= set(listed), listed
