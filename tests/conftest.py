"""Shared fixtures. Everything offline: no hub, no analytics, no cloud metadata probes."""

from __future__ import annotations

import os

for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "DVC_NO_ANALYTICS": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "AWS_EC2_METADATA_DISABLED": "true",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_key, _value)

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """gpu-marked tests skip where CUDA is absent."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny Qwen2.5-VL (no warm-up)."""
    from vqr1.model import tiny

    return tiny.build(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session")
def warm_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model after the format warm-up: its completions parse."""
    from vqr1.model import tiny

    return tiny.build(tmp_path_factory.mktemp("tiny-warm") / "model", seed=0, warmup_steps=150)


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small synthetic KADID-format set at reduced resolution: <root>/kadid10k/..."""
    from vqr1.data import synth

    root = tmp_path_factory.mktemp("synth")
    synth.build(root, synth.SynthSpec(width=128, height=96), workers=2, progress=False)
    return root


# The real SeaweedFS server fixtures of the storage/registry/flow tests (session-scoped, started on use).
from tests.fixtures_storage import s3_bucket, seaweed_server  # noqa: E402, F401
