"""What scoring needs, written beside the weights (``vqr1-scoring.json``) so it travels with the model.

The train stage and ``vqr1 train merge`` write it from params; a folder without it (the released checkpoint)
gets the reference README's settings (:data:`REFERENCE`): the thinking prompt, native resolution (the
checkpoint's own processor limits), one sample at temperature 0.1, up to 512 new tokens, the 1-5 scale. Any
setting can be overridden per call (:func:`vqr1.load`, ``Model.score``) and on the command line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from vqr1.config import EvaluateParams, ModelParams, Params
from vqr1.errors import ConfigError
from vqr1.fsutil import atomic_path
from vqr1.prompts import SCORE_SCALE

SETTINGS_FILE = "vqr1-scoring.json"


# the settings a scorer shares with the evaluate stage's params, field for field
SAMPLING = {"samples", "temperature", "top_p", "top_k", "max_new_tokens", "batch_size"}


class ScoringSettings(BaseModel):
    """Prompt variant, processor pixel limits (None: the checkpoint's own), sampling and the score scale."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    thinking: bool = True
    min_pixels: int | None = None
    max_pixels: int | None = None
    max_new_tokens: int = 512
    temperature: float = 0.1
    top_p: float = 1.0
    top_k: int = 50
    samples: int = 1
    batch_size: int = 8
    scale: tuple[float, float] = SCORE_SCALE

    @model_validator(mode="after")
    def _check(self) -> ScoringSettings:
        self.evaluate_params()  # the scorer's own rules (samples, temperature, pixels) decide
        if self.scale[0] >= self.scale[1]:
            raise ValueError(f"scale must be (low, high) with low < high, got {self.scale}")
        return self

    def evaluate_params(self, backend: str = "hf") -> EvaluateParams:
        """The scorer's settings (``max_pixels`` None: the checkpoint's own limits)."""
        return EvaluateParams(
            backend=backend if backend in ("hf", "vllm") else "hf",
            max_pixels=self.max_pixels,
            **self.model_dump(include=SAMPLING | {"thinking"}),
        )

    def model_params(self, base: str | Path) -> ModelParams:
        """Model params for loading ``base`` with these pixel limits (the minimum applies with a maximum)."""
        floor = {} if self.min_pixels is None else {"min_pixels": self.min_pixels}
        return ModelParams(base=str(base), **floor)

    def override(self, **changes: Any) -> ScoringSettings:
        """These settings with ``changes`` (None values ignored), validated; a bad value is a ConfigError."""
        given = {k: v for k, v in changes.items() if v is not None}
        try:
            return ScoringSettings.model_validate({**self.model_dump(), **given})
        except ValidationError as exc:
            raise ConfigError(f"invalid scoring settings: {_first_error(exc)}") from exc


REFERENCE = ScoringSettings()


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(map(str, err.get("loc", ()))) or "settings"
    return f"{where}: {err['msg']}"


def read(folder: str | Path) -> ScoringSettings | None:
    """The settings saved in ``folder``, or None when it has none; a malformed file is a ConfigError."""
    path = Path(folder) / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        return ScoringSettings.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"{path}: not valid scoring settings ({exc})") from exc


def write(folder: str | Path, settings: ScoringSettings) -> Path:
    """Write ``settings`` into ``folder`` (atomically)."""
    path = Path(folder) / SETTINGS_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(settings.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def from_params(params: Params) -> ScoringSettings:
    """What a run's model should be scored with: the prompt variant it was trained on, the evaluate stage's
    pixel limits (``evaluate.max_pixels`` with the model's minimum, else the base checkpoint's own limits,
    read now so the file names numbers) and the evaluate stage's sampling settings."""
    from vqr1.inference.processor import scoring_limits

    e = params.evaluate
    low, high = scoring_limits(params.model, e)
    return ScoringSettings(
        thinking=params.train.thinking,
        min_pixels=low,
        max_pixels=high,
        scale=SCORE_SCALE,
        **e.model_dump(include=SAMPLING),
    )
