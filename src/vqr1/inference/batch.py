"""Scoring a large collection into one Parquet file, as it goes, resumable after a kill.

Inputs: folders (searched recursively), glob patterns, a manifest (a Parquet file with a ``path`` or ``image``
column; relative paths are taken from the manifest's folder) and ``s3://bucket/prefix/`` (listed and read
through the project's storage settings).

Why parts: a Parquet file is readable only once its footer is written, so a writer killed mid-file leaves
nothing. Each finished batch is written instead as its own small Parquet file in ``<out>.parts/`` (a temporary
file renamed into place, so a part is there whole or not at all); the run ends by streaming the parts, part
after part, into ``<out>`` and removing them. ``--resume`` reads the paths already in ``<out>`` and its parts and
scores only the others: after a SIGKILL nothing finished is lost and nothing is scored twice. Memory holds one
batch, never the results.
"""

from __future__ import annotations

import glob
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.client import BaseClient

from vqr1 import layout
from vqr1.config import StorageParams, load_params
from vqr1.errors import ConfigError, DataError
from vqr1.fsutil import atomic_path
from vqr1.inference.images import ImageBlob, ImageInput, expand_paths
from vqr1.inference.scorer import ImageScore, Scorer
from vqr1.storage import s3

PARTS_SUFFIX = ".parts"


def schema(texts: bool) -> pa.Schema:
    fields = [
        pa.field("path", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("std", pa.float64()),
        pa.field("scores", pa.list_(pa.float64())),
        pa.field("error", pa.string()),
    ]
    return pa.schema(fields + ([pa.field("texts", pa.list_(pa.string()))] if texts else []))


def is_batch_input(item: str) -> bool:
    """True for what only batch scoring reads: a store prefix, a glob pattern or a manifest."""
    return item.startswith("s3://") or any(c in item for c in "*?[") or item.endswith(".parquet")


def collect(items: Sequence[str], stores: Stores) -> list[str]:
    """Every image named by ``items``, in order, each once (a store object as its ``s3://`` URI)."""
    names: list[str] = []
    for item in items:
        if item.startswith("s3://"):
            names.extend(_s3_listing(item, stores))
        elif any(c in item for c in "*?["):
            names.extend(
                p
                for p in sorted(glob.glob(item, recursive=True))
                if Path(p).suffix.lower() in layout.IMAGE_SUFFIXES
            )
        elif item.endswith(".parquet") and Path(item).is_file():
            names.extend(_manifest(Path(item)))
        else:
            names.extend(map(str, expand_paths([Path(item)])))
    return list(dict.fromkeys(names))


def _manifest(path: Path) -> list[str]:
    try:
        columns = pq.read_schema(path).names
        column = next((c for c in ("path", "image") if c in columns), None)
        if column is None:
            raise DataError(f"{path}: a manifest needs a 'path' or 'image' column, it has {columns}")
        values = pq.read_table(path, columns=[column]).column(column).to_pylist()
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet manifest ({exc})") from exc
    return [
        v if v.startswith("s3://") or Path(v).is_absolute() else str(path.parent / v)
        for v in map(str, values)
    ]


class Stores:
    """S3 clients by bucket, from the project's storage settings (environment, the workspace's params, the
    embedded server's env file), made once per run."""

    def __init__(self) -> None:
        self._clients: dict[str, tuple[s3.S3Settings, BaseClient]] = {}

    def get(self, bucket: str) -> tuple[s3.S3Settings, BaseClient]:
        if bucket not in self._clients:
            params = (
                load_params(Path("params.yaml")).storage if Path("params.yaml").is_file() else StorageParams()
            )
            settings = replace(s3.resolve(params), bucket=bucket)
            self._clients[bucket] = (settings, s3.client(settings))
        return self._clients[bucket]


def _split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ConfigError(f"{uri}: expected s3://BUCKET/PREFIX")
    return bucket, key


def _s3_listing(uri: str, stores: Stores) -> list[str]:
    bucket, prefix = _split_uri(uri)
    settings, client = stores.get(bucket)
    keys = s3.list_keys(client, settings, prefix)
    return [f"s3://{bucket}/{k}" for k in keys if Path(k).suffix.lower() in layout.IMAGE_SUFFIXES]


def materialize(name: str, stores: Stores) -> ImageInput:
    """What the scorer reads for ``name``: a local path, or a store object's bytes (a deleted object stays a
    name, which the scorer reports as missing)."""
    if not name.startswith("s3://"):
        return Path(name)
    bucket, key = _split_uri(name)
    settings, client = stores.get(bucket)
    data = s3.get_bytes(client, settings, key)
    return name if data is None else ImageBlob(name, data)


def done_paths(out: Path) -> set[str]:
    """Paths already in ``out`` and in its parts folder."""
    files = ([out] if out.is_file() else []) + sorted(parts_dir(out).glob("part-*.parquet"))
    done: set[str] = set()
    for f in files:
        try:
            done.update(pq.read_table(f, columns=["path"]).column("path").to_pylist())
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{f}: not a readable scores file ({exc}); move it away to start over") from exc
    return done


def parts_dir(out: Path) -> Path:
    return out.with_name(out.name + PARTS_SUFFIX)


def run(
    scorer: Scorer,
    names: Sequence[str],
    out: Path,
    stores: Stores,
    resume: bool = False,
    short_edge: int | None = None,
    texts: bool = False,
    progress: bool = True,
) -> tuple[int, int, int]:
    """Score ``names`` into ``out``; returns (scored now, skipped as already done, errors now)."""
    from tqdm import tqdm

    out, parts = Path(out), parts_dir(Path(out))
    if not resume and (out.exists() or parts.exists()):
        raise ConfigError(f"{out} (or {parts.name}) exists: pass --resume to continue it, or remove it")
    done = done_paths(out) if resume else set()
    todo = [n for n in names if n not in done]
    parts.mkdir(parents=True, exist_ok=True)
    number = max((int(p.stem.split("-")[1]) for p in parts.glob("part-*.parquet")), default=0)
    errors = 0
    with tqdm(
        total=len(names), initial=len(names) - len(todo), desc="scoring", unit="img", disable=not progress
    ) as bar:
        for chunk in _chunks(todo, scorer.settings.batch_size):
            for results in scorer.batches([materialize(n, stores) for n in chunk], short_edge):
                number += 1
                _write_part(parts / f"part-{number:06d}.parquet", results, texts)
                errors += sum(r.error is not None for r in results)
                bar.update(len(results))
    _finish(out, parts, texts)
    return len(todo), len(names) - len(todo), errors


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _write_part(path: Path, results: list[ImageScore], texts: bool) -> None:
    rows = {
        "path": [r.path for r in results],
        "score": [r.score for r in results],
        "std": [None if r.std != r.std else r.std for r in results],  # NaN (fewer than two) -> null
        "scores": [r.scores for r in results],
        "error": [r.error for r in results],
    }
    if texts:
        rows["texts"] = [r.texts for r in results]
    with atomic_path(path) as tmp:
        pq.write_table(pa.table(rows, schema=schema(texts)), tmp)


def _finish(out: Path, parts: Path, texts: bool) -> None:
    """Stream the earlier ``out`` and every part into a new ``out`` (swapped in whole), then drop the parts."""
    sources = ([out] if out.is_file() else []) + sorted(parts.glob("part-*.parquet"))
    target_schema = schema(texts)
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, target_schema) as writer:
        for source in sources:
            table = pq.read_table(source)
            if "texts" in table.column_names and not texts:
                table = table.drop(["texts"])
            elif texts and "texts" not in table.column_names:
                table = table.append_column("texts", pa.nulls(len(table), pa.list_(pa.string())))
            writer.write_table(table.select(target_schema.names).cast(target_schema))
    shutil.rmtree(parts)
