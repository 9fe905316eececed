"""Validated manifests -> the GRPO training dataset."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from vqr1.data.training_view import shuffled_mos, training_dataset, validated_path
from vqr1.errors import DataError
from vqr1.prompts import conversation, mos_band, mos_hint


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


def test_mos_hint_says_the_band_in_words_and_shuffling_moves_only_the_label(
    tmp_path: Path, synth_root: Path
) -> None:
    """The controls of the training loop: the positive one names each image's MOS band in its prompt, the
    negative one permutes the reward's MOS across the training images (same values, seeded order)."""
    bands = [mos_hint(m) for m in (0.5, 1.0, 1.7, 2.5, 3.3, 4.1, 5.0, 9.0)]
    assert bands[0] == bands[1] == bands[2] != bands[3]
    assert bands[-1] == bands[-2] == "pristine image, no visible distortion" != bands[-3]
    assert len(set(bands)) == 5
    frame = write_validated(tmp_path, synth_root, "kadid10k", 40)
    train_mos = frame[frame["split"] == "train"]["mos"].tolist()
    hinted = training_dataset(tmp_path, ["kadid10k"], hint=True)
    texts = [p[0]["content"][1]["text"] for p in hinted["prompt"]]
    assert [t.endswith(f" Hint: {mos_hint(m)}.") for t, m in zip(texts, hinted["mos"], strict=True)] == [
        True
    ] * 32
    assert hinted["mos"] == pytest.approx(train_mos)
    shuffled = training_dataset(tmp_path, ["kadid10k"], hint=True, shuffle_mos_seed=3)
    assert sorted(shuffled["mos"]) == pytest.approx(sorted(train_mos)) and shuffled["mos"] != train_mos
    assert shuffled["mos"] == training_dataset(tmp_path, ["kadid10k"], shuffle_mos_seed=3)["mos"]
    assert shuffled["image_id"] == hinted["image_id"]  # the images keep their order; their labels move
    assert shuffled["prompt"] == hinted["prompt"]  # the hint keeps the image's own band: it no longer
    # predicts the reward's label, so the negative control has nothing to learn from either


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_shuffled_labels_are_dealt_evenly_over_the_hint_bands(seed: int) -> None:
    """With the hint on, the negative control's labels must say nothing about the band. A uniform permutation
    leaves the bands' label means apart by chance, in an order a policy reads from the hint; the even deal
    gives every band labels from the whole range."""
    mos = np.random.default_rng(7).uniform(1.0, 5.0, 400)
    bands = np.array([mos_band(m) for m in mos])
    dealt = shuffled_mos(mos, seed)
    assert sorted(dealt) == sorted(mos) and not np.array_equal(dealt, mos)
    assert np.array_equal(dealt, shuffled_mos(mos, seed))
    uniform = np.random.default_rng(seed).permutation(mos)
    spread = {
        name: max(abs(labels[bands == b].mean() - mos.mean()) for b in range(5))
        for name, labels in (("dealt", dealt), ("uniform", uniform))
    }
    assert spread["dealt"] < 0.02 < spread["uniform"], spread  # uniform: about 0.1 (a 1.15 std / sqrt(80))
    for b in range(5):  # each band's labels cover the range: its lowest and highest fifth included
        labels = dealt[bands == b]
        assert labels.min() < np.quantile(mos, 0.2) and labels.max() > np.quantile(mos, 0.8)
    assert abs(np.corrcoef(dealt, mos)[0, 1]) < 0.2  # the image's own label is not kept
