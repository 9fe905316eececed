"""`vqr1 evaluate score` on the format-warmed tiny model: single image, folder CSV, --json, bad files, adapters."""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from tests.model.helpers import tiny_model_params
from vqr1.errors import ConfigError
from vqr1.evaluate.commands import app
from vqr1.inference.commands import FOLDER_CSV
from vqr1.parsing import parse_score
from vqr1.prompts import SCORE_SCALE

runner = CliRunner()


@pytest.fixture(scope="module")
def images(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of 5 synthetic images."""
    folder = tmp_path_factory.mktemp("score-images")
    for src in sorted((synth_root / "kadid10k" / "images").glob("*.png"))[:5]:
        shutil.copy(src, folder / src.name)
    return folder


@pytest.fixture(scope="module")
def params_file(warm_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("score-params") / "params.yaml"
    cfg = tiny_model_params(
        warm_model_dir, train={"run_name": "absent"}, evaluate={"max_new_tokens": 24, "batch_size": 4}
    )
    path.write_text(yaml.safe_dump(cfg))
    return path


def _score(params_file: Path, *args: str) -> tuple[int, str, BaseException | None]:
    result = runner.invoke(app, ["score", "--params", str(params_file), *args])
    return result.exit_code, result.stdout, result.exception


def test_single_image_prints_reasoning_and_score(params_file: Path, images: Path) -> None:
    """The plain output shows the model's own completion and a summary line; the completion is taken from
    a greedy ``--json`` run of the same model in this process, so the check holds whatever it says."""
    image = sorted(images.glob("*.png"))[0]
    code, out, exc = _score(params_file, str(image), "--adapter", "none", "--temperature", "0", "--json")
    assert code == 0, exc
    (record,) = json.loads(out)
    code, out, exc = _score(params_file, str(image), "--adapter", "none", "--temperature", "0")
    assert code == 0, exc
    (completion,) = record["reasoning"]
    assert completion.strip() and completion.strip() in out and image.name in out
    assert any(line.startswith(str(image)) and "->" not in line for line in out.splitlines())


def test_json_with_samples_reports_mean_and_std(params_file: Path, images: Path) -> None:
    """Three sampled answers, and the figures they give (mean and std of the parsed ones, failures
    counted, off-scale answers taken at the scale's end): checked against the scores in the record,
    whatever was sampled."""
    image = sorted(images.glob("*.png"))[0]
    code, out, exc = _score(
        params_file, str(image), "--adapter", "none", "--json", "--samples", "3", "--temperature", "1.0"
    )
    assert code == 0, exc
    (record,) = json.loads(out)
    assert len(record["scores"]) == len(record["reasoning"]) == 3
    assert record["scores"] == [parse_score(t) for t in record["reasoning"]]
    parsed = [s for s in record["scores"] if s is not None]
    on_scale = [min(max(s, SCORE_SCALE[0]), SCORE_SCALE[1]) for s in parsed]  # off-scale answers: the end
    assert record["parse_failures"] == 3 - len(parsed)
    assert record["mean"] == (pytest.approx(statistics.mean(on_scale)) if parsed else None)
    assert record["std"] == (pytest.approx(statistics.stdev(on_scale)) if len(parsed) > 1 else None)


def test_folder_writes_a_csv(params_file: Path, images: Path) -> None:
    code, _, exc = _score(params_file, str(images), "--adapter", "none")
    assert code == 0, exc
    table = pd.read_csv(images / FOLDER_CSV)
    assert sorted(Path(p).name for p in table["path"]) == sorted(p.name for p in images.glob("*.png"))
    assert table["error"].isna().all()


def test_corrupt_files_get_their_own_error_and_the_rest_scores(
    params_file: Path, images: Path, tmp_path: Path
) -> None:
    good = sorted(images.glob("*.png"))[:2]
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(good[0].read_bytes()[:200])  # truncated PNG
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("not an image")
    thin = tmp_path / "thin.png"
    Image.new("RGB", (600, 2)).save(thin)  # readable, but the Qwen processor refuses the aspect ratio
    args = [str(good[0]), str(corrupt), str(not_image), str(thin), str(good[1])]
    code, out, _ = _score(params_file, *args, "--adapter", "none", "--json")
    assert code == 1
    records = {Path(r["path"]).name: r for r in json.loads(out)}
    for bad in (corrupt, not_image, thin):
        assert str(bad) in records[bad.name]["error"]
        assert records[bad.name]["scores"] == []
    for ok in good:
        assert records[ok.name]["error"] is None and len(records[ok.name]["scores"]) == 1


def test_missing_adapter_is_an_error_not_a_silent_base_model(params_file: Path, images: Path) -> None:
    code, _, exc = _score(params_file, str(images))
    assert code != 0
    assert isinstance(exc, ConfigError) and "--adapter none" in str(exc)


def test_scores_with_a_lora_adapter(
    params_file: Path, warm_model_dir: Path, images: Path, tmp_path: Path
) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    base = AutoModelForImageTextToText.from_pretrained(warm_model_dir)
    lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    lora.save_pretrained(tmp_path / "adapter")
    image = sorted(images.glob("*.png"))[0]
    greedy = ("--temperature", "0", "--json")
    code, out, exc = _score(params_file, str(image), "--adapter", str(tmp_path / "adapter"), *greedy)
    assert code == 0, exc
    (record,) = json.loads(out)
    code, out, exc = _score(params_file, str(image), "--adapter", "none", *greedy)
    assert code == 0, exc
    (plain,) = json.loads(out)
    # LoRA starts with B = 0: the adapter adds exactly nothing, so the greedy answer is the base model's
    assert record["error"] is None and record["reasoning"] == plain["reasoning"] and record["reasoning"][0]
    assert record["scores"] == plain["scores"]
    code, _, exc = _score(params_file, str(image), "--adapter", str(tmp_path))
    assert isinstance(exc, ConfigError) and "adapter_config.json" in str(exc)
