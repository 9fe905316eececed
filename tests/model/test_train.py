"""GRPO + LoRA on the CPU with the format-warmed tiny Qwen2.5-VL and the synthetic set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file

from tests.conftest import REPO
from tests.data.test_training_view import write_validated
from vqr1.config import Params, TrainParams, deep_merge, read_yaml
from vqr1.layout import resolve_model_base
from vqr1.train import grpo, resume
from vqr1.train.trainer import build_trainer

FAST = {"max_completion_length": 24, "logging_steps": 1}


def make_params(root: Path, **train: Any) -> Params:
    """params.yaml + the demo overlay + ``train`` overrides, also written to ``root/params.yaml``.

    A key of vqr1's own train settings overrides ``train.<key>``; any other goes to ``train.grpo.<key>``."""
    raw = deep_merge(read_yaml(REPO / "params.yaml"), read_yaml(REPO / "configs" / "demo.yaml"))
    own = {k: v for k, v in train.items() if k in TrainParams.model_fields}
    grpo = {**FAST, **{k: v for k, v in train.items() if k not in own}}
    raw = deep_merge(raw, {"train": {**own, "grpo": grpo}})
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return Params.model_validate(raw)


@pytest.fixture
def workspace(tmp_path: Path, synth_root: Path, warm_model_dir: Path) -> Path:
    """A train-stage workspace: validated synthetic manifest(s) and the warm tiny model at models/tiny."""
    write_validated(tmp_path, synth_root, "synthetic", 60)
    shutil.copytree(warm_model_dir, tmp_path / "models" / "tiny")
    return tmp_path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, synth_root: Path, warm_model_dir: Path) -> Path:
    """One 3-step LoRA run (with merged weights) whose outputs the focused tests below each check."""
    root = tmp_path_factory.mktemp("trained")
    write_validated(root, synth_root, "synthetic", 60)
    shutil.copytree(warm_model_dir, root / "models" / "tiny")
    params = make_params(
        root, max_steps=3, save_steps=3, merge_weights=True, log_completions=True, num_completions_to_print=0
    )
    out = grpo.train_workspace(root, params)
    assert out == root / "models" / "demo"
    return root


def _completions(trained: Path) -> pd.DataFrame:
    """TRL's completions log of the run: every completion of every step with its rewards and advantage."""
    tables = sorted((trained / "models/demo/checkpoints/completions").glob("completions_*.parquet"))
    return pd.concat([pd.read_parquet(t) for t in tables], ignore_index=True)


def test_adapter_is_lora_on_the_language_model_only_and_was_updated(trained: Path) -> None:
    """LoRA's B starts at 0 and moves exactly when some completion had a non-zero advantage (the K sampled
    answers to an image earned different rewards): the gradient's only source at B = 0. Which answers were
    sampled differs per CPU; this link does not."""
    adapter = trained / "models" / "demo" / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and "language_model" in config["target_modules"]
    assert (adapter / "tokenizer.json").is_file() and (adapter / "processor_config.json").is_file()
    weights = load_file(adapter / "adapter_model.safetensors")
    assert not any("visual" in k for k in weights)  # vision tower frozen by default
    lora_b = [t for k, t in weights.items() if "lora_B" in k]
    moved = max(float(t.abs().max()) for t in lora_b) > 0
    advantages = _completions(trained)["advantage"]
    assert len(advantages) == 3 * 8  # 3 steps of 2 images x K = 4
    assert moved == bool((advantages != 0).any()), (moved, advantages.tolist())


def test_every_step_is_logged_with_the_rewards_of_its_completions(trained: Path) -> None:
    """Each step is logged once, and its reward figures are those of the completions it sampled."""
    state = json.loads((trained / "models/demo/checkpoints/checkpoint-3/trainer_state.json").read_text())
    logs = [e for e in state["log_history"] if "reward" in e]
    assert [e["step"] for e in logs] == [1, 2, 3]
    table = _completions(trained)
    for entry in logs:
        fidelity = table.loc[table["step"] == entry["step"], "fidelity"]
        assert entry["rewards/fidelity/mean"] == pytest.approx(fidelity.mean(), abs=1e-5)
        assert entry["rewards/fidelity/std"] == pytest.approx(fidelity.std(), abs=1e-5)


@pytest.mark.parametrize(
    "name",
    ["rewards/fidelity/mean", "rewards/format/mean", "reward_std", "kl", "parse_failure_rate",
     "completions/mean_length", "learning_rate"],
)  # fmt: skip
def test_dvclive_plots_every_step(trained: Path, name: str) -> None:
    rows = pd.read_csv(trained / "dvclive" / "plots" / "metrics" / f"{name}.tsv", sep="\t")
    assert rows["step"].tolist() == [1, 2, 3]
    assert "rewards" in json.loads((trained / "dvclive" / "metrics.json").read_text())


def test_merged_weights_fold_the_adapter_into_plain_weights(trained: Path) -> None:
    merged_dir = trained / "models" / "demo" / "merged"
    merged = load_file(merged_dir / "model.safetensors")
    assert merged and not any("lora" in k for k in merged)
    base = load_file(trained / "models" / "tiny" / "model.safetensors")
    q_proj = [k for k in base if k.endswith("q_proj.weight") and k in merged]
    assert q_proj and any(not torch.equal(base[k], merged[k]) for k in q_proj)
    assert (merged_dir / "tokenizer.json").is_file()


def test_scoring_settings_are_published_beside_the_weights(trained: Path) -> None:
    from vqr1.inference import settings as scoring

    params = resolve_model_base(Params.model_validate(read_yaml(trained / "params.yaml")), trained)
    expected = scoring.from_params(params)
    for folder in ("adapter", "merged"):
        assert scoring.read(trained / "models" / "demo" / folder) == expected
    assert (
        expected.thinking == params.train.thinking
        and expected.max_new_tokens == params.evaluate.max_new_tokens
    )


def test_model_card_names_base_and_data_with_the_reward_curve(trained: Path) -> None:
    card = (trained / "models" / "demo" / "README.md").read_text()
    assert "base_model: models/tiny" in card and "library_name: peft" in card and "`synthetic`" in card
    assert (trained / "models" / "demo" / "reward_curve.png").stat().st_size > 1000


def test_each_reward_call_ranks_groups_of_one_dataset_and_gets_every_column(
    workspace: Path, synth_root: Path
) -> None:
    from vqr1.data.training_view import training_dataset

    write_validated(workspace, synth_root, "spaq", 60)
    params = make_params(workspace, max_steps=2, images_per_group=2, images_per_update=4, num_generations=2)
    dataset = training_dataset(workspace, ["synthetic", "spaq"])
    trainer = build_trainer(resolve_model_base(params, workspace), dataset, workspace / "ckpt")
    calls: list[dict[str, Any]] = []
    ranking = trainer.reward_funcs[0]

    def spy(**kwargs: Any) -> list[float]:
        calls.append(kwargs)
        return ranking(**kwargs)

    trainer.reward_funcs[0] = spy
    trainer.train()

    assert len(calls) == 2  # one generation batch per optimiser step here
    for kw in calls:
        assert {"completions", "image_id", "mos", "dataset", "image", "log_metric", "ranking_group"} <= set(
            kw
        )
        ids = kw["image_id"]
        assert len(set(ids)) == 4 and len(ids) == 8  # 2 groups (accumulation) of 2 images, K = 2 each
        assert all(ids[i] == ids[i + 1] for i in range(0, 8, 2))
        assert kw["ranking_group"] == [0, 0, 0, 0, 1, 1, 1, 1]  # one group per micro-step, in a row
        for group in (0, 1):
            in_group = [i for i, g in enumerate(kw["ranking_group"]) if g == group]
            assert len({kw["dataset"][i] for i in in_group}) == 1


def test_stale_checkpoints_are_dropped(tmp_path: Path) -> None:
    ckpt = tmp_path / "checkpoints"
    (ckpt / "checkpoint-4").mkdir(parents=True)
    (ckpt / "checkpoint-4" / "trainer_state.json").write_text('{"global_step": 4}')
    (ckpt / "checkpoint-6").mkdir()  # an interrupted save: no trainer_state.json
    expected = {"train": {"learning_rate": 1e-6}, "data": {"kadid10k": "abc"}}
    (ckpt / resume.FINGERPRINT).write_text(json.dumps(expected))
    assert resume.resume_point(ckpt, expected) == ckpt / "checkpoint-4"
    changed = {"train": {"learning_rate": 2e-6}, "data": {"kadid10k": "abc"}}
    assert resume.resume_point(ckpt, changed) is None
    assert not (ckpt / "checkpoint-4").exists()
    assert json.loads((ckpt / resume.FINGERPRINT).read_text()) == changed


@pytest.mark.slow
def test_a_resumed_full_fine_tune_continues_from_its_checkpoint_weights(workspace: Path) -> None:
    """A full fine-tune stopped after step 2 and resumed ends where the uninterrupted run ends. The Trainer's own
    loader reports every Qwen2.5-VL weight missing (hub key names) and would continue from the base model."""
    params = make_params(workspace, tuning="full", max_steps=3, save_steps=1, learning_rate=1e-3)
    ckpt = workspace / "models" / "demo" / "checkpoints"
    grpo.train_workspace(workspace, params)
    whole = load_file(ckpt / "checkpoint-3" / "model.safetensors")
    at_2 = load_file(ckpt / "checkpoint-2" / "model.safetensors")
    assert any(not torch.equal(whole[k], at_2[k]) for k in whole)  # step 3 changed the weights
    shutil.rmtree(ckpt / "checkpoint-3")

    grpo.train_workspace(workspace, params)  # resumes from checkpoint-2
    resumed = load_file(ckpt / "checkpoint-3" / "model.safetensors")
    assert resumed.keys() == whole.keys()
    for key in whole:
        torch.testing.assert_close(resumed[key], whole[key], msg=lambda m, key=key: f"{key}: {m}")
