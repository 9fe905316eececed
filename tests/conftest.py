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

import shutil  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

pytest_plugins = ["tests.reliability.scorecard"]  # its summary must load in xdist's controller too


def pytest_configure(config: pytest.Config) -> None:
    """Each pytest process starts and ends as the `vqr1` command does (:func:`vqr1.process.as_entry_point`):
    without an unused optional import in every worker, nor walking every object of its session in the last
    garbage collections (seconds per worker). Under pytest-xdist, each worker gets its share of the cores
    for torch (and, through the environment, for the stages it starts): with every worker on every core, OpenMP
    threads contend, and a GRPO step of the tiny model took 23 s instead of 4."""
    from vqr1.process import as_entry_point

    as_entry_point()
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers:
        import torch

        threads = max(1, (os.cpu_count() or 1) // workers)
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """gpu-marked tests skip where CUDA is absent, and the ``longest`` tests are spread over the xdist workers."""
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
    spread_longest(items, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")))


def spread_longest(items: list[pytest.Item], workers: int) -> None:
    """The first ``workers`` tests marked ``longest`` each open one worker's share. The worksteal scheduler
    hands worker i the i-th contiguous share of the collection (pending // workers left) and later steals from
    the shares' ends, so each starts at once on its own worker. In collection order both learning controls
    fall in one share, and one worker would run them back to back (8 minutes) while the other idles."""
    first = [item for item in items if item.get_closest_marker("longest")][:workers]
    if workers < 2 or not first:
        return
    ordered = [item for item in items if item not in first]
    start, left = 0, len(items)
    for worker, item in enumerate(first):
        ordered.insert(start, item)  # in increasing order: each lands at its share's start
        share = left // (workers - worker)
        start, left = start + share, left - share
    items[:] = ordered


def built_once(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str, name: str, build: Callable[[Path], object]
) -> Path:
    """``build(folder)`` run once per test session: with pytest-xdist, the first worker builds it in the
    session's shared temp folder under a file lock and the others reuse it (read-only by convention)."""
    if worker_id == "master":
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    from filelock import FileLock

    folder = tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    with FileLock(f"{folder}.lock"):
        if not (folder / ".done").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".done").touch()
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A random tiny Qwen2.5-VL (no warm-up)."""
    from vqr1.model import tiny

    return (
        built_once(tmp_path_factory, worker_id, "tiny", lambda f: tiny.build(f / "model", seed=0)) / "model"
    )


def warm_model(tmp_path_factory: pytest.TempPathFactory, worker_id: str, seed: int) -> Path:
    """The tiny model built with ``seed`` and given the format warm-up (its completions parse), once per
    session and seed."""
    from vqr1.model import tiny

    def build(folder: Path) -> None:
        tiny.build(folder / "model", seed=seed, warmup_steps=tiny.FORMAT_WARMUP_STEPS)

    return built_once(tmp_path_factory, worker_id, f"tiny-warm-{seed}", build) / "model"


@pytest.fixture(scope="session")
def warm_model_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The tiny model after the format warm-up with params.yaml's seed: the learning controls' weights, so the
    session warms up one model."""
    from vqr1.config import read_yaml

    return warm_model(tmp_path_factory, worker_id, seed=read_yaml(REPO / "params.yaml")["seed"])


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The small synthetic KADID-format set at reduced resolution: <root>/kadid10k/..."""
    from vqr1.data import synth

    def build(root: Path) -> None:
        synth.build(root, synth.SynthSpec(width=128, height=96), workers=2, progress=False)

    return built_once(tmp_path_factory, worker_id, "synth", build)


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
