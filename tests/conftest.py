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

from collections.abc import Iterator  # noqa: E402
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


@pytest.fixture(autouse=True)
def _no_external_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's own S3 settings never reach a test: every storage test uses its own SeaweedFS."""
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "VQR1_S3_ENDPOINT",
        "VQR1_S3_BUCKET",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary Prefect server and database for every flow run of the session (started on first use)."""
    from prefect.settings import (
        PREFECT_HOME,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    home = tmp_path_factory.mktemp("prefect-home")
    with (
        temporary_settings({PREFECT_HOME: str(home), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 60}),
        prefect_test_harness(server_startup_timeout=60),
    ):
        yield


# The real SeaweedFS server fixtures of the storage/registry/flow tests (session-scoped, started on use).
from tests.fixtures_storage import s3_bucket, seaweed_server  # noqa: E402, F401
