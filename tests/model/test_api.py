"""`vqr1.load` on the format-warmed tiny model: input forms, per-image errors, compare, rank, the tensor reward,
the settings that travel with the weights, a dead server, and `vqr1 score --model` outside a workspace."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import vqr1
from tests.fixtures_storage import SeaweedHandle, fake_run_workspace
from tests.model.helpers import tiny_model_params
from vqr1.cli import app
from vqr1.config import Params
from vqr1.errors import ConfigError, ServerError
from vqr1.inference import settings as scoring
from vqr1.inference.thurstone import probability

GREEDY = {"temperature": 0.0, "max_new_tokens": 24}


@pytest.fixture(scope="module")
def model(warm_model_dir: Path) -> vqr1.inference.api.Model:
    return vqr1.load(warm_model_dir, **GREEDY)


@pytest.fixture(scope="module")
def pictures(synth_root: Path) -> list[Path]:
    return sorted((synth_root / "kadid10k" / "images").glob("*.png"))[:4]


def test_four_input_forms_give_the_same_greedy_answer(model, pictures: list[Path]) -> None:
    path = pictures[0]
    pil = Image.open(path).convert("RGB")
    array = np.array(pil)
    tensor = torch.from_numpy(array).permute(2, 0, 1).float() / 255.0
    results = model.score([path, str(path), pil, array, tensor])
    assert all(r.error is None and r.texts for r in results)
    assert len({r.texts[0] for r in results}) == 1, [r.texts for r in results]
    assert results[0].path == str(path) and results[2].path == "<image 2>"
    batch = model.score(torch.stack([tensor, tensor]))  # Bx3xHxW: one result per image
    assert [r.texts for r in batch] == [results[0].texts] * 2


def test_a_corrupt_image_errors_only_itself(model, pictures: list[Path], tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(pictures[0].read_bytes()[:150])
    results = model.score([pictures[0], corrupt, np.zeros((4, 4), np.uint8), pictures[1]])
    assert [r.error is None for r in results] == [True, False, False, True]
    assert str(corrupt) in results[1].error and "HxWx3" in results[2].error
    assert results[0].score is not None and results[3].score is not None
    assert results[1].score is None and results[1].scores == []


def test_score_reward_compare_and_rank(model, pictures: list[Path]) -> None:
    sampled = model.score(pictures[:2], samples=4, temperature=1.0)
    assert all(len(r.scores) == len(r.texts) == 4 for r in sampled)
    a, b = (r.on_scale for r in sampled)
    assert a and b, "the warmed model writes parsable answers"
    assert probability(a, b) + probability(b, a) == pytest.approx(1.0)  # one set of samples
    p = model.compare(pictures[0], pictures[1], samples=3)
    assert 0.0 <= p <= 1.0
    order = model.rank(pictures, samples=2)
    assert sorted(order) == list(range(len(pictures)))
    rewards = model(pictures[:3])
    assert isinstance(rewards, torch.Tensor) and rewards.shape == (3,) and rewards.dtype == torch.float32
    greedy = model.score(pictures[:3])
    assert rewards.tolist() == pytest.approx([r.score for r in greedy])


def test_settings_travel_with_the_weights(warm_model_dir: Path, tmp_path: Path, pictures: list[Path]) -> None:
    folder = tmp_path / "model"
    shutil.copytree(warm_model_dir, folder)
    assert vqr1.load(folder).settings == scoring.REFERENCE  # no file: the reference README's settings
    params = Params.model_validate(
        tiny_model_params(
            warm_model_dir, train={"thinking": False}, evaluate={"temperature": 0.0, "max_new_tokens": 7}
        )
    )
    saved = scoring.from_params(params)
    assert (saved.thinking, saved.temperature, saved.max_new_tokens) == (False, 0.0, 7)
    assert (saved.min_pixels, saved.max_pixels) == (784, 12544)  # the checkpoint's own limits, as numbers
    scoring.write(folder, saved)
    loaded = vqr1.load(folder)
    assert loaded.settings == saved
    assert "only output the final answer" in loaded.scorer.backend.prompt  # the non-thinking prompt
    longer = loaded.score(pictures[0], max_new_tokens=24)[0]  # a per-call override
    short = loaded.score(pictures[0])[0]
    assert len(short.texts[0]) <= len(longer.texts[0])
    assert vqr1.load(folder, thinking=True).settings.thinking is True
    (folder / scoring.SETTINGS_FILE).write_text(json.dumps({"temperature": -1}))
    with pytest.raises(ConfigError, match=scoring.SETTINGS_FILE):
        vqr1.load(folder)


def test_a_dead_server_is_a_clear_error(free_tcp_port: int) -> None:
    url = f"http://127.0.0.1:{free_tcp_port}/v1"
    with pytest.raises(ServerError, match=f"{url}: no server answers"):
        vqr1.load(url)


def test_bad_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such model folder"):
        vqr1.load(tmp_path / "absent")
    with pytest.raises(ConfigError, match="not a model folder"):
        vqr1.load(tmp_path)
    with pytest.raises(ConfigError, match="backend must be one of"):
        vqr1.load(tmp_path, backend="onnx")


def test_score_with_model_in_an_empty_folder(
    warm_model_dir: Path, pictures: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["score", str(pictures[0]), "--model", str(warm_model_dir), "--temperature", "0", "--json"]
    result = CliRunner().invoke(app, [*args, "--max-new-tokens", "24"])
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    assert record["error"] is None and not math.isnan(record["mean"])
    missing = CliRunner().invoke(app, ["score", str(pictures[0])])
    assert isinstance(missing.exception, ConfigError) and "--model SOURCE" in str(missing.exception)


def test_merge_writes_the_settings_and_an_adapter_loads_on_its_base(
    warm_model_dir: Path, tmp_path: Path, pictures: list[Path]
) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from vqr1.train.publish import export_merged

    base = AutoModelForImageTextToText.from_pretrained(warm_model_dir)
    lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    lora.save_pretrained(tmp_path / "adapter")  # adapter_config.json names the base folder
    AutoProcessor.from_pretrained(warm_model_dir).save_pretrained(tmp_path / "adapter")  # as the train stage
    params = Params.model_validate(
        tiny_model_params(warm_model_dir, model={"torch_dtype": "float32"}, evaluate={"max_new_tokens": 24})
    )
    export_merged(params, tmp_path / "adapter", tmp_path / "merged")
    assert scoring.read(tmp_path / "merged") == scoring.from_params(params)
    merged = vqr1.load(tmp_path / "merged", temperature=0.0).score(pictures[0])[0]
    on_base = vqr1.load(tmp_path / "adapter", **GREEDY).score(pictures[0])[
        0
    ]  # base from the adapter's config
    explicit = vqr1.load(warm_model_dir, adapter=tmp_path / "adapter", **GREEDY).score(pictures[0])[0]
    assert merged.texts == on_base.texts == explicit.texts


def test_the_champion_loads_from_the_registry(
    warm_model_dir: Path,
    tmp_path: Path,
    pictures: list[Path],
    s3_bucket,
    seaweed_server: SeaweedHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import yaml
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from vqr1.config import load_params
    from vqr1.storage import artifacts, registry, s3

    root = tmp_path / "workspace"
    fake_run_workspace(root, {"synthetic": 0.5}, run_name="champ")
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["model"].update(base=str(warm_model_dir), torch_dtype="float32")
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    adapter = root / "models" / "champ" / "adapter"
    shutil.rmtree(adapter)
    base = AutoModelForImageTextToText.from_pretrained(warm_model_dir)
    get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"])).save_pretrained(adapter)
    AutoProcessor.from_pretrained(warm_model_dir).save_pretrained(adapter)
    writer, _ = s3_bucket
    client = s3.client(writer)
    run_id = artifacts.new_run_id()
    artifacts.upload_run(client, writer, root, load_params(root / "params.yaml"), run_id)
    registry.promote(client, writer, run_id, {"mean": {"srcc": 0.5}}, None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VQR1_STORAGE_DIR", str(seaweed_server.storage_dir))
    monkeypatch.setenv("VQR1_S3_BUCKET", writer.bucket)
    monkeypatch.setenv("VQR1_CACHE", str(tmp_path / "cache"))
    champion = vqr1.load("champion", **GREEDY).score(pictures[0])[0]
    local = vqr1.load(warm_model_dir, adapter=adapter, **GREEDY).score(pictures[0])[0]
    assert champion.error is None and champion.texts == local.texts
    assert (tmp_path / "cache" / "runs" / run_id / "models" / "champ" / "adapter").is_dir()


def test_a_refusing_server_is_a_clear_error(tmp_path: Path) -> None:
    """A web server that is not OpenAI-compatible (Python's static file server on 127.0.0.1) answers 404."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
        try:
            with pytest.raises(ServerError, match=f"{url}: GET /models refused with HTTP 404"):
                vqr1.load(url)
        finally:
            httpd.shutdown()


def test_a_hub_repo_id_loads_from_the_local_cache(
    warm_model_dir: Path, tmp_path: Path, pictures: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline, a repo id resolves to its snapshot in the Hugging Face cache, laid out as huggingface_hub
    documents it (models--OWNER--NAME/refs/main holding the commit, snapshots/<commit>/ the files)."""
    commit = "0" * 40
    repo = tmp_path / "hub" / "models--someone--tiny-vqr1"
    shutil.copytree(warm_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    from_hub = vqr1.load("someone/tiny-vqr1", **GREEDY).score(pictures[0])[0]
    local = vqr1.load(warm_model_dir, **GREEDY).score(pictures[0])[0]
    assert from_hub.texts == local.texts
    with pytest.raises(ConfigError, match="someone/absent: cannot get this Hugging Face repo"):
        vqr1.load("someone/absent")
