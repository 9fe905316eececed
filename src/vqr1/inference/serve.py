"""``vqr1 serve``: a model behind its engine's own OpenAI-compatible server, never a home-made one.

``transformers serve`` (CPU or GPU; needs transformers' ``serving`` extra, the ``openai`` package included) or
``vllm serve`` (GPU extra) is started on a serving folder made from the model: the weights linked (or base +
adapter merged), the chat template and a processor resized to the scoring pixel limits, and a
``generation_config.json`` with the scoring sampling defaults and ``do_sample`` on (``transformers serve``
decodes greedily whatever the request's temperature unless the folder says to sample). Clients
(:mod:`vqr1.inference.remote`, or any OpenAI client) then get the answers in-process scoring would give.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from vqr1.errors import ConfigError
from vqr1.fsutil import atomic_dir
from vqr1.inference.processor import has_processor, pixel_limits
from vqr1.inference.settings import SETTINGS_FILE
from vqr1.inference.sources import ModelSource, cache_dir

ENGINES = ("transformers", "vllm")
# Files the serving folder writes itself rather than linking from the model folder.
_OWN = {"generation_config.json", "preprocessor_config.json", "processor_config.json", SETTINGS_FILE}


def serving_folder(model: ModelSource) -> Path:
    """The folder the engine loads, under the cache, keyed by the model and its settings (rebuilt each time:
    processor and config files are small, weights are links; an adapter is merged once per key)."""
    key = json.dumps(
        [
            str(model.weights.resolve()),
            str(model.adapter.resolve()) if model.adapter else None,
            model.settings.model_dump(),
        ],
        sort_keys=True,
    )
    target = cache_dir() / "serve" / hashlib.sha256(key.encode()).hexdigest()[:16]
    if model.adapter is not None and (target / "config.json").is_file():
        return target  # merged weights already there for this model and these settings
    with atomic_dir(target) as tmp:
        _write_serving_files(model, tmp)
    return target


def _write_serving_files(model: ModelSource, folder: Path) -> None:
    from transformers import GenerationConfig

    from vqr1.model.loading import load_model, load_processor

    s = model.settings
    limits = s.model_params(model.weights)
    processor_source = model.adapter if model.adapter and has_processor(model.adapter) else model.weights
    if s.max_pixels is not None:
        processor = load_processor(processor_source, limits.model_copy(update={"max_pixels": s.max_pixels}))
    else:
        processor = load_processor(processor_source, None)
    processor.save_pretrained(folder)
    if (
        model.adapter is not None
    ):  # engines serve plain weights: merge the adapter in (the checkpoint's dtype)
        load_model(
            limits.model_copy(update={"torch_dtype": "auto"}), model.adapter, device="cpu"
        ).save_pretrained(folder)
    for item in model.weights.iterdir():
        if item.is_file() and item.name not in _OWN and not (folder / item.name).exists():
            os.symlink(item.resolve(), folder / item.name)
    try:
        generation = GenerationConfig.from_pretrained(str(model.weights))
    except OSError:
        generation = GenerationConfig()
    generation.update(
        do_sample=True,
        temperature=s.temperature or 1.0,
        top_p=s.top_p,
        top_k=s.top_k,
        max_new_tokens=s.max_new_tokens,
    )
    generation.save_pretrained(folder)
    (folder / SETTINGS_FILE).write_text(s.model_dump_json(indent=2) + "\n", encoding="utf-8")


def engine_command(engine: str, folder: Path, host: str, port: int, seed: int = 42) -> list[str]:
    """The engine's own server command for ``folder`` (its chat template and pixel limits go with it)."""
    executable = engine_executable(engine)
    if engine == "transformers":
        return [
            executable,
            "serve",
            str(folder),
            "--host",
            host,
            "--port",
            str(port),
            "--default-seed",
            str(seed),
        ]
    from transformers import AutoImageProcessor

    low, high = pixel_limits(AutoImageProcessor.from_pretrained(str(folder)))
    command = [
        executable, "serve", str(folder), "--host", host, "--port", str(port), "--seed", str(seed),
        "--limit-mm-per-prompt", json.dumps({"image": 1}),
        "--mm-processor-kwargs", json.dumps({"min_pixels": low, "max_pixels": high}),
        "--generation-config", "auto",
    ]  # fmt: skip
    template = folder / "chat_template.jinja"
    return command + (["--chat-template", str(template)] if template.is_file() else [])


def engine_executable(engine: str) -> str:
    """The engine's command, from this environment first (the one vqr1 runs in); a clear error when the
    engine is unknown or not installed."""
    if engine not in ENGINES:
        raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    beside = Path(sys.executable).parent / engine
    found = str(beside) if beside.is_file() else shutil.which(engine)
    if found is None:
        extra = "pip install 'transformers[serving]'" if engine == "transformers" else "the GPU extra (vllm)"
        raise ConfigError(f"`{engine}` is not installed here ({extra})")
    return found


def url(host: str, port: int) -> str:
    return f"http://{host}:{port}/v1"
