"""The validate stage: the Great Expectations data gate between the manifests and everything downstream.

Image checks (exists, decodes, size, decompression bomb) run in parallel threads (PIL releases the GIL
while decoding) and become columns of the frame that GX validates, so every problem, tabular or
pixel, lands in one GX result and one report. The gate writes ``reports/gate/`` (GX Data Docs HTML +
``summary.json`` listing each failed expectation with examples) and, only when every dataset passes,
``data/validated/<dataset>.parquet`` (manifest + width, height, sha256 of the file). The per-image sha256
makes the validated manifest change whenever an image's bytes do (same name and size included), so DVC
reruns train and evaluate, which depend on data/validated and read those pixels. On failure it raises GateFailed and
leaves ``data/validated`` as it was, so `dvc repro` stops before training.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from vqr1 import layout
from vqr1.config import DataParams, GateParams
from vqr1.data import catalogue
from vqr1.data.gate_report import describe_failure
from vqr1.data.normalize import MANIFEST_COLUMNS
from vqr1.data.splits import SPLITS, required_splits
from vqr1.errors import DataError, GateFailed
from vqr1.fsutil import atomic_dir, sha256_file

CHECK_COLUMNS = ["file_exists", "decodes", "width", "height", "image_error", "sha256", "ref_splits"]
MAX_EXAMPLES = 5


def inspect_image(path: Path, gate: GateParams) -> tuple[bool, bool | None, int | None, int | None, str]:
    """(exists, decodes, width, height, error) for one file; the pixel bound is checked before decoding.

    A missing file has ``decodes=None`` so that it is reported once (as missing), not twice.
    """
    if not path.is_file():
        return False, None, None, None, "file not found"
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > gate.max_pixels:
                return (
                    True,
                    False,
                    width,
                    height,
                    (
                        f"decompression bomb: {width}x{height} = {width * height:,} pixels "
                        f"> data.gate.max_pixels {gate.max_pixels:,}"
                    ),
                )
            if img.format == "PNG" and not gate.full_decode:
                img.verify()  # CRC of every chunk up to IEND: ~40x faster than inflating the pixels
            else:
                img.load()
    except Image.DecompressionBombError as exc:
        return True, False, None, None, f"decompression bomb: {exc}"
    except (OSError, SyntaxError, ValueError) as exc:
        return True, False, None, None, f"does not decode: {exc}"
    return True, True, width, height, ""


def _inspect_and_digest(path: Path, gate: GateParams) -> tuple[object, ...]:
    checked = inspect_image(path, gate)
    return (*checked, sha256_file(path) if checked[0] else None)


def inspect_images(root: Path, images: pd.Series, gate: GateParams) -> pd.DataFrame:
    """Image check columns (and each file's sha256) for every row, checked in ``gate.workers`` threads."""
    paths = [Path(root) / p for p in images]
    with ThreadPoolExecutor(max_workers=max(1, gate.workers)) as pool:
        rows = list(pool.map(lambda p: _inspect_and_digest(p, gate), paths))
    checks = pd.DataFrame(rows, columns=CHECK_COLUMNS[:6], index=images.index)
    for col in ("width", "height"):
        checks[col] = checks[col].astype("Int64")
    return checks


def _with_checks(root: Path, manifest: pd.DataFrame, gate: GateParams) -> pd.DataFrame:
    frame = manifest.copy()
    images = frame["image"] if "image" in frame else pd.Series([""] * len(frame), index=frame.index)
    frame[CHECK_COLUMNS[:6]] = inspect_images(root, images.astype(str), gate)
    if {"ref_id", "split"} <= set(frame.columns):
        splits_per_ref = frame.groupby("ref_id", dropna=True)["split"].transform("nunique")
        frame["ref_splits"] = splits_per_ref.fillna(1).astype(int)
    else:
        frame["ref_splits"] = 1
    return frame


def expectations(
    entry: catalogue.Dataset,
    count: int | None,
    gate: GateParams,
    mos_range: tuple[float, float],
    splits: list[str],
) -> list[Any]:
    """The gate's expectations for one dataset (GX 1.x expectation classes).

    ``mos_range`` is the raw scale of the labels in use; its bounds allow floating-point rounding
    (SRIQA-Bench's reference labels read 100.00000000000001 for a group maximum). Each of ``splits``
    must hold rows.
    """
    import great_expectations.expectations as gxe

    not_null = ["image", "dataset", "mos_raw", "mos", "split"] + (["ref_id"] if entry.has_references else [])
    slack = 1e-9 * (mos_range[1] - mos_range[0])
    lo, hi = mos_range[0] - slack, mos_range[1] + slack
    suite = [
        gxe.ExpectTableColumnsToMatchSet(column_set=MANIFEST_COLUMNS + CHECK_COLUMNS, exact_match=True),
        *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in not_null],
        gxe.ExpectColumnValuesToBeUnique(column="image"),
        gxe.ExpectColumnValuesToBeInSet(column="dataset", value_set=[entry.name]),
        gxe.ExpectColumnValuesToBeBetween(column="mos_raw", min_value=lo, max_value=hi),
        gxe.ExpectColumnValuesToBeBetween(column="mos", min_value=1.0, max_value=5.0),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=list(SPLITS)),
        gxe.ExpectColumnDistinctValuesToContainSet(column="split", value_set=splits),
        gxe.ExpectColumnValuesToBeInSet(column="file_exists", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="decodes", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(column="width", min_value=gate.min_side, max_value=gate.max_side),
        gxe.ExpectColumnValuesToBeBetween(column="height", min_value=gate.min_side, max_value=gate.max_side),
        gxe.ExpectColumnValuesToBeBetween(column="ref_splits", min_value=1, max_value=1),
    ]
    if count is not None:
        suite.append(gxe.ExpectTableRowCountToEqual(value=count))
    return suite


def _plain(value: Any) -> Any:
    """JSON-safe version of a GX/numpy value."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _failure(result: Any, frame: pd.DataFrame) -> dict[str, Any]:
    """One failed expectation: type, column, counts and up to MAX_EXAMPLES examples (image + error)."""
    config = result.expectation_config
    res = result.result or {}
    errors = dict(zip(frame["image"], frame["image_error"], strict=True)) if "image" in frame else {}
    examples = []
    for item in (res.get("unexpected_index_list") or [])[:MAX_EXAMPLES]:
        example = _plain(item) if isinstance(item, dict) else {"row": _plain(item)}
        if errors.get(example.get("image")):
            example["error"] = errors[example["image"]]
        examples.append(example)
    exception = (result.exception_info or {}).get("exception_message")
    return {
        "expectation": config.type,
        "column": config.kwargs.get("column"),
        "kwargs": _plain({k: v for k, v in config.kwargs.items() if k not in ("column", "batch_id")}),
        "unexpected_count": res.get("unexpected_count"),
        "observed_value": _plain(res.get("observed_value")),
        "examples": examples,
        **({"exception": exception} if exception else {}),
        **(
            {"missing": sorted(_plain(res["partial_missing_list"]))}
            if res.get("partial_missing_list")
            else {}
        ),
    }


@dataclass
class DatasetResult:
    name: str
    success: bool
    rows: int
    failures: list[dict[str, Any]]
    frame: pd.DataFrame
    image_check_seconds: float = 0.0


def _context(docs_dir: Path) -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(
        site_name="gate",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    return context


def validate_frame(context: Any, name: str, frame: pd.DataFrame, suite_items: list[Any]) -> DatasetResult:
    """Run one dataset's suite through a GX checkpoint that also updates the Data Docs site."""
    import great_expectations as gx

    asset = context.data_sources.add_pandas(f"{name}_source").add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe("manifest")
    suite = context.suites.add(gx.ExpectationSuite(name=f"{name}_gate", expectations=suite_items))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    result_format: dict[str, Any] = {"result_format": "COMPLETE"}
    if "image" in frame:
        result_format["unexpected_index_column_names"] = ["image"]
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=f"{name}_checkpoint",
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=["gate"])],
            result_format=result_format,
        )
    )
    run = checkpoint.run(batch_parameters={"dataframe": frame})
    results = [r for vr in run.run_results.values() for r in vr.results]
    failures = [_failure(r, frame) for r in results if not r.success]
    return DatasetResult(name, not failures, len(frame), failures, frame)


def _message(failed: list[DatasetResult], summary_path: Path) -> str:
    """One line per failed expectation (:func:`vqr1.data.gate_report.describe_failure`) under a header."""
    lines = [describe_failure(ds.name, f) for ds in failed for f in ds.failures]
    header = f"data gate failed ({len(lines)} failed expectations; report {summary_path}):"
    return "\n  ".join([header, *lines])


def validate_manifests(root: Path, data: DataParams) -> dict[str, Any]:
    """Validate every manifest; write the report, and data/validated only when all pass."""
    root = Path(root).resolve()  # GX's Data Docs store needs an absolute folder
    manifests = {}
    for name in data.datasets:
        path = layout.manifest_path(root, name)
        if not path.exists():
            raise DataError(f"{name}: manifest {path} not found; run the normalize stage first")
        manifests[name] = pd.read_parquet(path)
    started = time.perf_counter()
    results: list[DatasetResult] = []
    with atomic_dir(root / layout.GATE_REPORT_DIR) as report_tmp:
        context = _context(report_tmp)
        for name, manifest in manifests.items():
            entry = catalogue.get(name)
            t0 = time.perf_counter()
            frame = _with_checks(root, manifest, data.gate)
            checked = time.perf_counter() - t0
            suite = expectations(
                entry,
                catalogue.expected_count(entry, data),
                data.gate,
                catalogue.mos_range(entry, data.labels),
                required_splits(entry, data),
            )
            result = validate_frame(context, name, frame, suite)
            result.image_check_seconds = checked
            results.append(result)
        summary = {
            "success": all(r.success for r in results),
            "seconds": round(time.perf_counter() - started, 3),
            "data_docs": (layout.GATE_REPORT_DIR / "index.html").as_posix(),
            "datasets": {
                r.name: {
                    "success": r.success,
                    "rows": r.rows,
                    "image_check_seconds": round(r.image_check_seconds, 3),
                    "failed": r.failures,
                }
                for r in results
            },
        }
        (report_tmp / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    failed = [r for r in results if not r.success]
    if failed:
        raise GateFailed(_message(failed, root / layout.GATE_REPORT_DIR / "summary.json"))
    with atomic_dir(root / layout.VALIDATED_DIR) as tmp:
        for r in results:
            out = r.frame[[*MANIFEST_COLUMNS, "width", "height", "sha256"]].copy()
            out[["width", "height"]] = out[["width", "height"]].astype("int64")
            out.to_parquet(tmp / f"{r.name}.parquet", index=False)
    return summary
