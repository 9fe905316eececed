"""Where things live in a workspace: one place for every path the stages, flows and commands share.

A workspace (the repo root, or one made by :mod:`vqr1.workspace`) holds params.yaml, dvc.yaml and
the folders below; dvc.yaml declares the same paths as stage outputs. Everything here is relative
to the workspace root, so ``path(Path(), ...)`` gives the relative form (S3 keys, DVC outs).
"""

from __future__ import annotations

from pathlib import Path

from vqr1.config import Params, TrainParams

SOURCES_DIR = Path("data/sources")  # data/sources/<dataset>.json: the sources stage's output
RAW_DIR = Path("data/raw")  # data/raw/<dataset>/: the download stage's output
ARCHIVES_DIR = Path("data/archives")  # data/archives/<dataset>/: downloaded archives (not a stage output)
MANIFESTS_DIR = Path("data/manifests")  # data/manifests/<dataset>.parquet: the normalize stage's output
VALIDATED_DIR = Path("data/validated")  # data/validated/<dataset>.parquet: the gate's output
MODELS_DIR = Path("models")  # models/<train.run_name>/: the train stage's output
GATE_REPORT_DIR = Path("reports/gate")
EVAL_DIR = Path("reports/eval")
DVCLIVE_DIR = Path("dvclive")

# Image files, as datasets ship them and as `vqr1 score` finds them in a folder.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"})


def raw_dir(root: Path, dataset: str) -> Path:
    return Path(root) / RAW_DIR / dataset


def manifest_path(root: Path, dataset: str) -> Path:
    return Path(root) / MANIFESTS_DIR / f"{dataset}.parquet"


def validated_path(root: Path, dataset: str) -> Path:
    return Path(root) / VALIDATED_DIR / f"{dataset}.parquet"


def run_dir(root: Path, train: TrainParams) -> Path:
    """models/<train.run_name>: weights, model card, checkpoints of one training run."""
    return Path(root) / MODELS_DIR / train.run_name


def weights_name(train: TrainParams) -> str:
    """The run's weights folder: ``model`` (every weight, tuning=full) or ``adapter`` (PEFT LoRA)."""
    return "model" if train.tuning == "full" else "adapter"


def weights_dir(root: Path, train: TrainParams) -> Path:
    return run_dir(root, train) / weights_name(train)


def resolve_model_base(params: Params, root: Path) -> Params:
    """params whose ``model.base`` points into the workspace when it names a folder there (e.g. models/tiny).

    A hub id or an absolute path is kept. Only the runtime copy is resolved: fingerprints and model
    cards keep params as written, so a moved workspace still resumes and reads the same.
    """
    base = Path(params.model.base)
    local = Path(root) / base
    if base.is_absolute() or not local.is_dir():
        return params
    return params.model_copy(update={"model": params.model.model_copy(update={"base": str(local)})})
