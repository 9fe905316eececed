"""The one config loader: params.yaml (plus optional overlays) into typed, validated settings.

Every stage, flow and CLI command reads its settings through :func:`load_params`, so a typo in
params.yaml fails early with the key that is wrong instead of deep inside a training run.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vqr1.errors import ConfigError
from vqr1.naming import check_name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitParams(_Strict):
    method: Literal["by_reference", "paper_lists"] = "by_reference"
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    seed: int = 42

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitParams:
        if abs(sum(self.fractions) - 1.0) > 1e-6 or min(self.fractions) < 0:
            raise ValueError(f"split fractions must be >= 0 and sum to 1, got {self.fractions}")
        return self


# The reference repository's datasets/ folder at the commit that added the test label files (2025-10-16).
REFERENCE_LABELS_URL = (
    "https://raw.githubusercontent.com/TianheWu/VisualQuality-R1/"
    "a16dcdb64eea03a27afdb411d43cc1c9d723a1b2/datasets"
)


class ReferenceLabelsParams(_Strict):
    """Where the reference repository's label files come from: its datasets/ folder online or a local copy."""

    url: str = REFERENCE_LABELS_URL
    dir: str | None = None


class PartSource(_Strict):
    """One file: a mirror ``url`` or a local ``archive`` path, with its sha256 if known."""

    url: str | None = None
    archive: str | None = None
    sha256: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> PartSource:
        if self.url and self.archive:
            raise ValueError("give either a url or a local archive as a source, not both")
        return self


class SourceOverride(PartSource):
    """A dataset's source: one file holding the whole set, or per named part (data.sources.<set>.parts)."""

    parts: dict[str, PartSource] = Field(default_factory=dict)


class DownloadParams(_Strict):
    """Network and size bounds of the download stage (vqr1.data.download, vqr1.data.archive)."""

    retries: int = 5  # urllib3 retries of a failed connection or a 429/5xx answer; resumes without progress
    backoff_s: float = (
        2.0  # urllib3 backoff factor: waits 0, then 2, 4, 8 ... x this, capped at backoff_max_s
    )
    backoff_max_s: float = 30.0
    connect_timeout_s: float = 10.0
    timeout_s: float = 60.0  # between two bytes of an answer
    # a file may be this many times the catalogue's expected size (sizes are estimates), or the bytes in
    # max_bytes.<dataset>; a larger file is refused before or while it is fetched
    size_margin: float = 1.5
    max_bytes: dict[str, int] = Field(default_factory=dict)
    max_ratio: float = 100.0  # expansion bound of each archive member and of the whole archive
    max_extract_bytes: int = 200_000_000_000


class SyntheticParams(_Strict):
    """Size of the generated ``synthetic`` set (vqr1.data.synth): references x types x 5 levels."""

    references: int = 8
    types: int = 6
    width: int = 256
    height: int = 192
    seed: int = 42


class GateParams(_Strict):
    workers: int = 2
    min_side: int = 16
    max_side: int = 20000
    max_pixels: int = 200_000_000
    # false: PNGs are checked by the CRC of every chunk (PIL verify: truncation, bit rot) without
    # inflating pixels; other formats always decode fully. true: decode every pixel of every image.
    full_decode: bool = False
    # dataset -> rows its manifest must have, in place of the catalogue's count (a subset, a fixture)
    expected_counts: dict[str, int] = Field(default_factory=dict)


class DataParams(_Strict):
    datasets: list[str]
    train_datasets: list[str]
    eval_datasets: list[str]
    # reference: the paper's own label files (vqr1.data.reference) wherever the reference repository has
    # them; native: each dataset's own label file. The datasets' archives supply the images either way.
    labels: Literal["reference", "native"] = "reference"
    reference_labels: ReferenceLabelsParams = ReferenceLabelsParams()
    split: SplitParams = SplitParams()
    sources: dict[str, SourceOverride] = Field(default_factory=dict)
    # a mirror on the Hugging Face Hub for the sets it carries (vqr1.data.catalogue.MIRRORS); opt-in,
    # since a mirror redistributes data under the datasets' research licences
    mirror: Literal["iqa-pytorch"] | None = None
    download: DownloadParams = DownloadParams()
    gate: GateParams = GateParams()
    synthetic: SyntheticParams = SyntheticParams()

    @model_validator(mode="after")
    def _used_sets_are_fetched(self) -> DataParams:
        for name in self.datasets:
            check_name("dataset name", name)
        missing = sorted(set(self.train_datasets + self.eval_datasets) - set(self.datasets))
        if missing:
            raise ValueError(f"train/eval datasets not listed in data.datasets: {missing}")
        return self


class ModelParams(_Strict):
    base: str
    min_pixels: int = 3136
    max_pixels: int = 262144
    torch_dtype: Literal["auto", "float32", "bfloat16", "float16"] = "bfloat16"
    attn_implementation: str = "sdpa"


class LoraParams(_Strict):
    r: int = 64
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    # module names inside the vision tower's blocks, adapted only with train.tuning=lora_vision
    vision_target_modules: list[str] = Field(
        default_factory=lambda: ["qkv", "proj", "gate_proj", "up_proj", "down_proj"]
    )


class HeldOutParams(_Strict):
    """The held-out SRCC logged during training (vqr1.train.heldout): every ``every`` steps (0 = off), the
    median of ``samples`` sampled scores per image of ``split``, on at most ``max_images`` images."""

    every: int = 0
    samples: int = 4
    max_images: int = 64
    split: Literal["val", "test"] = "val"

    @model_validator(mode="after")
    def _check(self) -> HeldOutParams:
        if self.every < 0 or self.samples < 1 or self.max_images < 3:
            raise ValueError(
                "train.heldout: every >= 0, samples >= 1 and max_images >= 3 (an SRCC needs images)"
            )
        return self


# GRPOConfig fields vqr1 sets itself (vqr1.train.trainer_config.grpo_config): derived from the project's fields, or
# required by how the trainer is wired (dvclive callback, reward columns).
GRPO_MANAGED_KEYS = frozenset(
    {
        "output_dir",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "report_to",
        "remove_unused_columns",
    }
)


class TrainParams(_Strict):
    """The project's own training settings, typed; ``grpo`` is TRL's GRPOConfig, passed through.

    Any GRPOConfig field (TRL 1.x) is a key of ``grpo``; its names and values are checked by TRL when the
    train stage builds the config (a misspelt key fails there, with its name), not re-declared here.
    """

    run_name: str = "run"
    reward_funcs: list[str] = Field(default_factory=lambda: ["fidelity", "format"])
    unparsable: Literal["skip", "paper"] = "skip"
    # (lo, hi): parsed scores clipped to the MOS scale inside the ranking reward; null = no clip (reference)
    score_clip: tuple[float, float] | None = None
    # Controls of the training loop, off in every real recipe (docs/learning.md): each image's MOS band said
    # in words in its prompt (a known signal: the positive control), and the MOS the reward sees permuted
    # across the training images and dealt evenly over the hint's bands (nothing to learn: the negative
    # control; the hint keeps the true band).
    mos_hint: bool = False
    shuffle_mos: bool = False
    heldout: HeldOutParams = HeldOutParams()
    # a ranking group: images of ONE dataset that one reward call ranks against each other, and one device
    # micro-batch (GRPOConfig's per_device_train_batch_size = images_per_group x num_generations completions)
    images_per_group: int = 8
    # images per optimizer update over all processes (the paper: 16 GPUs x 8 = 128); gradient accumulation
    # makes up the rest: gradient_accumulation_steps = images_per_update / (images_per_group x processes)
    images_per_update: int = 128
    # accelerate config (single_gpu, multi_gpu_ddp, deepspeed_zero2/3 under configs/accelerate/); "" = in-process
    accelerate_config: str = ""
    thinking: bool = True
    tuning: Literal["lora", "lora_vision", "full"] = "lora"
    lora: LoraParams = LoraParams()
    merge_weights: bool = False
    grpo: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> TrainParams:
        check_name("train.run_name", self.run_name)  # becomes models/<run_name>/
        managed = sorted(GRPO_MANAGED_KEYS & set(self.grpo))
        if managed:
            raise ValueError(
                f"train.grpo.{managed[0]} is set by vqr1 (see vqr1.train.trainer_config.grpo_config)"
            )
        weights = self.grpo.get("reward_weights")
        if weights is not None and len(weights) != len(self.reward_funcs):
            raise ValueError("train.reward_funcs and train.grpo.reward_weights must have the same length")
        if self.images_per_group < 2:
            raise ValueError("train.images_per_group must be >= 2: the ranking reward compares images")
        if self.images_per_update < self.images_per_group or self.images_per_update % self.images_per_group:
            raise ValueError(
                f"train.images_per_update ({self.images_per_update}) must be a multiple of "
                f"train.images_per_group ({self.images_per_group}): an update is made of whole ranking groups"
            )
        if self.score_clip is not None and not self.score_clip[0] < self.score_clip[1]:
            raise ValueError(
                f"train.score_clip must be [low, high] with low < high, got {list(self.score_clip)}"
            )
        return self


# Images larger than this are refused before decoding (an 8192 x 8192 square; SPAQ's phone photos are
# about 12-16 Mpx): a 100-Mpx file would otherwise be decoded whole, 300 MB and more per image.
MAX_DECODE_PIXELS = 8192 * 8192


class EvaluateParams(_Strict):
    datasets_from: str = "data.eval_datasets"
    backend: Literal["hf", "vllm"] = "hf"
    samples: int = 1
    temperature: float = 0.1
    top_p: float = 1.0
    top_k: int = 50
    max_new_tokens: int = 256
    batch_size: int = 8
    thinking: bool = True
    bootstrap: int = 1000
    max_images: int = 0
    baselines: list[str] = Field(default_factory=list)
    # pixel cap of the scorer's image processor; None = the processor's own limit, i.e. native resolution
    # as the reference infers (Qwen2.5-VL: 12,845,056 pixels; KonIQ 1024x768 -> 999 visual tokens)
    max_pixels: int | None = None
    # decoding bound of the scorer: larger images get a per-file error, unread (max_pixels above resizes
    # what was decoded)
    max_decode_pixels: int = MAX_DECODE_PIXELS
    # dataset -> short edge in pixels before scoring (downscale only), for sets that do not fit at native
    # resolution (SPAQ's full-size phone photos: 768, the SPAQ authors' advice)
    resize_short_edge: dict[str, int] = Field(default_factory=dict)
    # pyiqa baseline -> local parameter file (NIQE/BRISQUE download theirs otherwise, impossible offline)
    baseline_weights: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> EvaluateParams:
        if self.samples < 1 or self.batch_size < 1 or self.max_new_tokens < 1:
            raise ValueError("evaluate.samples, batch_size and max_new_tokens must be >= 1")
        if self.temperature < 0:
            raise ValueError("evaluate.temperature must be >= 0 (0 = greedy)")
        if self.temperature == 0 and self.samples > 1:
            raise ValueError("evaluate.samples > 1 needs temperature > 0: greedy samples are identical")
        if self.max_pixels is not None and self.max_pixels < 28 * 28:
            raise ValueError("evaluate.max_pixels must be at least 784 (one 28x28 patch group), or null")
        return self


class PromotionParams(_Strict):
    min_srcc_gain: float = 0.005
    max_dataset_drop: float = 0.02


class StorageParams(_Strict):
    endpoint_url: str = ""
    bucket: str = "vqr1"
    dvc_prefix: str = "dvc"


class Params(_Strict):
    seed: int = 42
    data: DataParams
    model: ModelParams
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    promotion: PromotionParams = PromotionParams()
    storage: StorageParams = StorageParams()


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``overlay`` merged in: dicts merge recursively, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, naming the file in any error."""
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(loaded).__name__}")
    return loaded


def load_params(path: Path | str = "params.yaml", overlays: list[Path] | None = None) -> Params:
    """Load and validate params.yaml, deep-merging each overlay over it in order."""
    raw = read_yaml(Path(path))
    for overlay in overlays or []:
        raw = deep_merge(raw, read_yaml(Path(overlay)))
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid params:\n{exc}") from exc
