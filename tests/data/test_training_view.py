"""Validated manifests -> the GRPO training dataset."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from vqr1.data.training_view import training_dataset, validated_path
from vqr1.errors import DataError
from vqr1.prompts import conversation


def write_validated(root: Path, synth_root: Path, name: str, n: int | None = None) -> pd.DataFrame:
    """A validated manifest (the data contract) over the synthetic images, copied under ``root``."""
    images = root / "data" / "raw" / name / "kadid10k"
    if not images.exists():
        shutil.copytree(synth_root / "kadid10k", images)
    labels = pd.read_csv(images / "dmos.csv").head(n)
    frame = pd.DataFrame(
        {
            "image": [f"data/raw/{name}/kadid10k/images/{f}" for f in labels["dist_img"]],
            "dataset": name,
            "ref_id": labels["ref_img"],
            "mos_raw": labels["dmos"],
            "mos": labels["dmos"],
            "split": ["train" if i % 5 else "val" for i in range(len(labels))],
            "width": 128,
            "height": 96,
        }
    )
    path = validated_path(root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)
    return frame


def test_columns_prompt_and_images(tmp_path: Path, synth_root: Path) -> None:
    a = write_validated(tmp_path, synth_root, "kadid10k", 20)
    b = write_validated(tmp_path, synth_root, "spaq", 10)
    data = training_dataset(tmp_path, ["kadid10k", "spaq"], thinking=False)
    assert set(data.column_names) == {"prompt", "image", "mos", "image_id", "dataset"}
    n_train = int((a["split"] == "train").sum() + (b["split"] == "train").sum())
    assert len(data) == n_train
    row = data[0]
    assert isinstance(row["image"], Image.Image) and row["image"].size == (128, 96)
    assert row["prompt"][0]["content"][1]["text"] == conversation(False)[0]["content"][1]["text"]
    assert row["prompt"][0]["content"][0]["type"] == "image"
    assert len(set(data["image_id"])) == len(data)
    assert sorted(set(data["dataset"])) == ["kadid10k", "spaq"]
    assert data["mos"] == pytest.approx(
        a[a["split"] == "train"]["mos"].tolist() + b[b["split"] == "train"]["mos"].tolist()
    )


def test_missing_manifest_column_or_image_is_a_clear_error(tmp_path: Path, synth_root: Path) -> None:
    with pytest.raises(DataError, match=r"kadid10k\.parquet: validated manifest missing"):
        training_dataset(tmp_path, ["kadid10k"])
    frame = write_validated(tmp_path, synth_root, "kadid10k", 10)
    frame.drop(columns=["mos"]).to_parquet(validated_path(tmp_path, "kadid10k"))
    with pytest.raises(DataError, match=r"missing column\(s\) \['mos'\]"):
        training_dataset(tmp_path, ["kadid10k"])
    frame.assign(image=frame["image"].str.replace(".png", ".jpg")).to_parquet(
        validated_path(tmp_path, "kadid10k")
    )
    with pytest.raises(DataError, match=r"image\(s\) not found"):
        training_dataset(tmp_path, ["kadid10k"])
    frame.assign(split="test").to_parquet(validated_path(tmp_path, "kadid10k"))
    with pytest.raises(DataError, match="no 'train' rows"):
        training_dataset(tmp_path, ["kadid10k"])
