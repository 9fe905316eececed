"""`vqr1 serve` starts `transformers serve` (the engine's own OpenAI-compatible server) on 127.0.0.1 with the
tiny model, and scoring through it with the official `openai` client gives the in-process greedy answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

import vqr1

GREEDY = {"temperature": 0.0, "max_new_tokens": 24}


@pytest.fixture(scope="module")
def server(warm_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "VQR1_CACHE": str(tmp_path_factory.mktemp("cache"))}
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vqr1", "serve", str(warm_model_dir), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"server not up in 120 s:\n{log.read_text()}"
            time.sleep(0.5)
        assert f"at {url}" in log.read_text()  # the command prints the URL
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_server_gives_the_in_process_greedy_answers(
    server: str, warm_model_dir: Path, synth_root: Path
) -> None:
    pictures = sorted((synth_root / "kadid10k" / "images").glob("*.png"))[:3]
    local = vqr1.load(warm_model_dir, **GREEDY).score(pictures)
    remote = vqr1.load(server, **GREEDY).score(pictures)
    assert [r.error for r in remote] == [None] * 3
    assert [r.texts for r in remote] == [r.texts for r in local]
    assert [r.score for r in remote] == [r.score for r in local]


def test_samples_and_concurrency_through_the_server(server: str, synth_root: Path, tmp_path: Path) -> None:
    pictures = sorted((synth_root / "kadid10k" / "images").glob("*.png"))[:2]
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(pictures[0].read_bytes()[:150])
    thin = tmp_path / "thin.png"
    Image.new("RGB", (600, 2)).save(thin)  # readable, but Qwen2.5-VL's resize rule refuses the aspect ratio
    model = vqr1.load(server, temperature=1.0, samples=3, max_new_tokens=24, concurrency=4)
    results = model.score([pictures[0], corrupt, thin, pictures[1]])
    assert [len(r.texts) for r in results] == [3, 0, 0, 3]
    assert str(corrupt) in results[1].error and "aspect ratio" in results[2].error
    results = [results[0], results[1], results[3]]
    # the serving folder switches sampling on: greedy decoding would repeat one text per image
    assert any(len(set(r.texts)) > 1 for r in (results[0], results[2])), [r.texts for r in results]


def test_the_official_openai_client_talks_to_it(server: str) -> None:
    from openai import OpenAI

    models = OpenAI(base_url=server, api_key="none").models.list()
    assert [m.id for m in models]


def test_vllm_gets_the_chat_template_and_pixel_limits(
    warm_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vLLM is GPU-only, so a stand-in `vllm` on PATH records the command `vqr1 serve --engine vllm` runs."""
    import json

    from vqr1.errors import ConfigError
    from vqr1.inference import serve

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "vllm"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path / "argv.txt"}\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "VQR1_CACHE": str(tmp_path / "cache")}
    command = [
        sys.executable,
        "-m",
        "vqr1",
        "serve",
        str(warm_model_dir),
        "--engine",
        "vllm",
        "--port",
        "8123",
    ]
    done = subprocess.run(
        [*command, "--max-pixels", "6272"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "at http://127.0.0.1:8123/v1" in done.stdout
    argv = (tmp_path / "argv.txt").read_text().splitlines()
    folder = Path(argv[1])
    assert argv[0] == "serve" and argv[argv.index("--host") + 1] == "127.0.0.1"
    assert json.loads(argv[argv.index("--mm-processor-kwargs") + 1]) == {
        "min_pixels": 3136,
        "max_pixels": 6272,
    }
    assert Path(argv[argv.index("--chat-template") + 1]) == folder / "chat_template.jinja"
    generation = json.loads((folder / "generation_config.json").read_text())
    assert generation["do_sample"] is True and generation["top_k"] == 50
    assert (folder / "model.safetensors").resolve() == (warm_model_dir / "model.safetensors").resolve()
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(ConfigError, match="`vllm` is not installed"):
        serve.engine_command("vllm", folder, "127.0.0.1", 1)
    with pytest.raises(ConfigError, match="--engine must be one of"):
        serve.engine_executable("tgi")


def test_vqr1_score_with_a_server_url(
    server: str, synth_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from vqr1.cli import app

    picture = sorted((synth_root / "kadid10k" / "images").glob("*.png"))[0]
    monkeypatch.chdir(tmp_path)
    args = [
        "score",
        str(picture),
        "--model",
        server,
        "--temperature",
        "0",
        "--max-new-tokens",
        "24",
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    assert record["error"] is None and record["mean"] is not None
