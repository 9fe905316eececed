"""The multi-process path for real: the train stage under ``accelerate launch`` with the committed DDP config,
2 processes on the CPU (gloo), against 1 process with gradient accumulation.

What is compared is TRL's own completions log (``train.grpo.log_completions``), where the trainer records
the image, dataset, ranking group and process of every completion of every update, and the logged
fidelity reward of each completion, recomputed here group by group.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from tests.data.test_training_view import write_validated
from vqr1.config import Params, deep_merge, read_yaml
from vqr1.storage.seaweed import free_ports
from vqr1.train.rewards import fidelity_rewards, score_batch

GROUP, PER_UPDATE, K = 2, 8, 2  # 4 ranking groups of 2 images per update


def write_params(root: Path, **train: Any) -> Params:
    """params.yaml + the demo overlay for a two-dataset mix with completion logs, written to root."""
    raw = deep_merge(read_yaml(REPO / "params.yaml"), read_yaml(REPO / "configs" / "demo.yaml"))
    raw = deep_merge(
        raw,
        {
            "data": {"datasets": ["synthetic", "spaq"], "train_datasets": ["synthetic", "spaq"]},
            "train": {
                "images_per_group": GROUP,
                "images_per_update": PER_UPDATE,
                "grpo": {
                    "num_generations": K,
                    "max_completion_length": 16,
                    "save_steps": 2,
                    "logging_steps": 1,
                    "log_completions": True,
                    "num_completions_to_print": 0,
                },
            },
        },
    )
    raw = deep_merge(raw, {"train": train})
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return Params.model_validate(raw)


def make_workspace(root: Path, synth_root: Path, warm_model_dir: Path) -> Path:
    """16 + 8 training images (12 groups of 2: 3 updates per epoch) of two datasets and the warm tiny model."""
    write_validated(root, synth_root, "synthetic", 20)
    write_validated(root, synth_root, "spaq", 10)
    shutil.copytree(warm_model_dir, root / "models" / "tiny")
    return root


def ddp_config(root: Path, processes: int) -> str:
    """The committed DDP config with only the process count and a free port changed."""
    config = read_yaml(REPO / "configs" / "accelerate" / "multi_gpu_ddp.yaml")
    config.update(num_processes=processes, main_process_port=free_ports(1)[0])
    (root / "ddp.yaml").write_text(yaml.safe_dump(config))
    return "ddp.yaml"


def run_stage(root: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "vqr1.stages.train"],
        cwd=root,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def completions(checkpoints: Path) -> pd.DataFrame:
    """Every logged completion with its update (step)."""
    tables = sorted((checkpoints / "completions").glob("completions_*.parquet"))
    return pd.concat([pd.read_parquet(t) for t in tables], ignore_index=True)


def schedule(table: pd.DataFrame) -> dict[int, dict[int, list[str]]]:
    """update -> ranking group -> its images."""
    return {
        int(step): {int(g): sorted(set(rows["image_id"])) for g, rows in by_step.groupby("ranking_group")}
        for step, by_step in table.groupby("step")
    }


def mos_of(root: Path) -> dict[str, float]:
    from vqr1.data.training_view import training_dataset

    data = training_dataset(root, ["synthetic", "spaq"])
    return dict(zip(data["image_id"], data["mos"], strict=True))


@pytest.mark.slow
def test_two_processes_train_the_same_updates_as_one_with_accumulation_and_resume(
    tmp_path: Path, synth_root: Path, warm_model_dir: Path
) -> None:
    two = make_workspace(tmp_path / "two", synth_root, warm_model_dir)
    write_params(two, accelerate_config=ddp_config(two, 2), grpo={"max_steps": 2})
    run_stage(two)
    saved = two / "models" / "demo" / "checkpoints" / "checkpoint-2" / "trainer_state.json"
    stamp = saved.stat().st_mtime_ns
    write_params(two, accelerate_config="ddp.yaml", grpo={"max_steps": 4})  # continues the same run
    second = run_stage(two)
    assert "resuming from" in second.stderr
    assert saved.stat().st_mtime_ns == stamp  # resumed from it: a fresh start would have replaced it

    one = make_workspace(tmp_path / "one", synth_root, warm_model_dir)
    write_params(one, accelerate_config="", grpo={"max_steps": 4})  # in one process
    run_stage(one)

    ckpt_two, ckpt_one = (root / "models" / "demo" / "checkpoints" for root in (two, one))
    for ckpt in (ckpt_two, ckpt_one):
        assert json.loads((ckpt / "checkpoint-4" / "trainer_state.json").read_text())["global_step"] == 4
    table_two, table_one = completions(ckpt_two), completions(ckpt_one)

    # the same updates: 4 groups of 2 images each, the same groups in the same order
    assert schedule(table_two) == schedule(table_one)
    assert sorted(schedule(table_one)) == [1, 2, 3, 4]
    for groups in schedule(table_one).values():
        assert sorted(groups) == [0, 1, 2, 3] and all(len(images) == GROUP for images in groups.values())
    assert sorted(set(table_one["process"])) == [0]
    assert sorted(set(table_two["process"])) == [0, 1]

    mos = mos_of(two)
    for table in (table_two, table_one):
        for (step, group), rows in table.groupby(["step", "ranking_group"]):
            assert len(rows) == GROUP * K
            assert rows["dataset"].nunique() == 1, (step, group)  # one dataset per ranking group
            if table is table_two:  # process p ranks its own groups 2p and 2p + 1 only
                assert set(rows["process"]) == {group // 2}
            # the logged reward is the fidelity reward of this group alone
            batch = score_batch(
                rows["completion"].tolist(), rows["image_id"].tolist(), [mos[i] for i in rows["image_id"]]
            )
            assert rows["fidelity"].tolist() == pytest.approx(fidelity_rewards(batch).tolist(), abs=1e-6)
    # both published an adapter; dvclive logged steps 1-4 once across the resume
    for root in (two, one):
        assert (root / "models" / "demo" / "adapter" / "adapter_config.json").is_file()
    rows = pd.read_csv(two / "dvclive" / "plots" / "metrics" / "reward.tsv", sep="\t")
    assert rows["step"].tolist() == [1, 2, 3, 4]
