"""Where a model comes from: a folder, a Hugging Face repo id, the registry's champion, or an adapter.

Every source becomes local folders (weights, optional LoRA adapter) and the scoring settings saved beside them
(:mod:`vqr1.inference.settings`; the adapter's file wins over the base's; none: the reference's). A server URL
is not a source here: :mod:`vqr1.inference.remote` talks to it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from vqr1.errors import ConfigError
from vqr1.inference import settings as scoring
from vqr1.inference.settings import ScoringSettings

CHAMPION = "champion"


@dataclass(frozen=True)
class ModelSource:
    """Local weights (merged, fully fine-tuned or a base), an optional adapter, and their scoring settings."""

    weights: Path
    adapter: Path | None
    settings: ScoringSettings


def cache_dir() -> Path:
    """Where downloaded champions and serving folders go: ``VQR1_CACHE``, else ``~/.cache/vqr1``."""
    return Path(os.environ.get("VQR1_CACHE") or Path.home() / ".cache" / "vqr1")


def resolve(source: str | Path, adapter: str | Path | None = None) -> ModelSource:
    """Local folders and settings for ``source``: a model folder, an adapter folder (its base read from
    ``adapter_config.json``), ``"champion"`` or a Hugging Face repo id (offline: the local cache)."""
    if str(source) == CHAMPION:
        weights, found_adapter = champion()
        adapter = adapter or found_adapter
    else:
        weights = _folder(source)
    if adapter is None and (weights / "adapter_config.json").is_file():
        weights, adapter = _folder(_adapter_base(weights)), weights
    adapter = Path(adapter) if adapter is not None else None
    if adapter is not None and not (adapter / "adapter_config.json").is_file():
        raise ConfigError(f"{adapter}: not a PEFT adapter folder (no adapter_config.json)")
    saved = (scoring.read(adapter) if adapter else None) or scoring.read(weights)
    return ModelSource(weights, adapter, saved or scoring.REFERENCE)


def _adapter_base(adapter: Path) -> str:
    try:
        base = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))[
            "base_model_name_or_path"
        ]
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{adapter}/adapter_config.json: no base_model_name_or_path ({exc})") from exc
    if not base:
        raise ConfigError(f"{adapter}/adapter_config.json: no base model named; pass the base as the source")
    return str(base)


def _folder(source: str | Path) -> Path:
    """A local folder with a config.json: the path itself, or a hub repo's snapshot."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
            raise ConfigError(
                f"{path}: not a model folder (no config.json) nor an adapter (no adapter_config.json)"
            )
        return path
    if path.exists() or str(source).startswith((".", "/", "~")) or str(source).count("/") != 1:
        raise ConfigError(
            f"{source}: no such model folder (a source is a folder, a Hugging Face repo id, "
            "'champion' or an http(s)://HOST:PORT/v1 server URL)"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(str(source)))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError) as exc:
        raise ConfigError(f"{source}: cannot get this Hugging Face repo ({exc})") from exc


def champion() -> tuple[Path, Path | None]:
    """(weights, adapter) of the registry's current champion, downloaded (checksums checked) into the cache.

    The store comes from the project's storage settings (environment, ``params.yaml``'s ``storage:`` when run
    in a workspace, the embedded server's env file). The run's own params name its weights folder and base."""
    from vqr1 import layout
    from vqr1.config import StorageParams, load_params
    from vqr1.storage import artifacts, registry, s3

    storage = load_params(Path("params.yaml")).storage if Path("params.yaml").is_file() else StorageParams()
    settings = s3.resolve(storage)
    client = s3.client(settings)
    record, _ = registry.read_champion(client, settings)
    if record is None:
        raise ConfigError(f"{settings.describe()}: no champion yet (nothing was promoted)")
    run_id = str(record["run_id"])
    dest = cache_dir() / "runs" / run_id
    if not (dest / artifacts.DOWNLOAD_MARKER).is_file():
        artifacts.download_run(client, settings, run_id, dest, force=True)
    params = load_params(dest / "params.yaml")
    weights = layout.weights_dir(dest, params.train)
    if params.train.tuning == "full":
        return weights, None
    return _folder(layout.resolve_model_base(params, dest).model.base), weights
