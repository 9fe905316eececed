"""Evaluating a workspace: every evaluation set scored, written as predictions, reasoning, metrics, report, plots.

:func:`evaluate_workspace` is the one entry point; the DVC stage and `vqr1 evaluate run` both call it.
It reads ONLY data/validated/<dataset>.parquet (the gate's output) and the train stage's
models/<run>/adapter (or models/<run>/model with train.tuning=full). ``adapter="none"`` evaluates the
base model alone; it must be asked for, so a missing adapter never passes for a trained model.
All of reports/eval is built in one staging folder and swapped in at the end, so a crash at any
point leaves the previous predictions, metrics and report together and unchanged.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from vqr1.behaviour import ordered_pairs
from vqr1.config import Params
from vqr1.data import catalogue
from vqr1.data.validated import read_validated, subset
from vqr1.errors import ConfigError, DataError
from vqr1.evaluate import baselines, report
from vqr1.evaluate.metrics import dataset_metrics, group_srcc, mean_over
from vqr1.fsutil import atomic_dir
from vqr1.inference.scorer import ImageScore, build_scorer, resolve_weights
from vqr1.layout import EVAL_DIR, resolve_model_base, validated_path


def eval_datasets(params: Params) -> list[str]:
    """The dataset list named by ``evaluate.datasets_from`` (a dotted path into params, default data.eval_datasets)."""
    node: Any = params.model_dump()
    for key in params.evaluate.datasets_from.split("."):
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"evaluate.datasets_from={params.evaluate.datasets_from!r}: no such params key")
        node = node[key]
    if not isinstance(node, list) or not all(isinstance(n, str) for n in node) or not node:
        raise ConfigError(
            f"evaluate.datasets_from={params.evaluate.datasets_from!r}: not a list of dataset names"
        )
    return node


def test_rows(root: Path, dataset: str) -> pd.DataFrame:
    """The rows scored: the ``test`` split, which is the whole of an evaluation-only set and the held-out
    images of a training set (a model is never scored on images it trained on)."""
    frame = read_validated(root, dataset)
    return frame[frame["split"] == "test"].reset_index(drop=True)


def predictions_frame(frame: pd.DataFrame, results: list[ImageScore], samples: int) -> pd.DataFrame:
    """image, mos, score_1..score_K (as written, NaN = unparsable), mean, std, parse_failures, out_of_range,
    visual_tokens, error."""
    table: dict[str, Any] = {"image": frame["image"].tolist(), "mos": frame["mos"].astype(float).tolist()}
    for k in range(samples):
        table[f"score_{k + 1}"] = [
            r.scores[k] if k < len(r.scores) and r.scores[k] is not None else math.nan for r in results
        ]
    table["mean"] = [r.mean for r in results]
    table["std"] = [r.std for r in results]
    table["parse_failures"] = [r.parse_failures for r in results]
    table["out_of_range"] = [r.out_of_range for r in results]
    table["visual_tokens"] = pd.array([r.visual_tokens for r in results], dtype="Int64")
    table["error"] = [r.error or "" for r in results]
    return pd.DataFrame(table)


def reasoning_jsonl(frame: pd.DataFrame, results: list[ImageScore]) -> str:
    """One JSON line per image: its completions (the reasoning) beside their parsed scores."""
    lines = [
        json.dumps({"image": image, "completions": r.texts, "scores": r.scores, "error": r.error})
        for image, r in zip(frame["image"], results, strict=True)
    ]
    return "\n".join(lines) + "\n"


def parse_failure_rate(results: list[ImageScore]) -> float | None:
    """Unparsable completions over all completions of the images that were scored."""
    total = sum(len(r.scores) for r in results)
    return sum(r.parse_failures for r in results) / total if total else None


def out_of_range_counts(results: list[ImageScore]) -> dict[str, Any]:
    """Parsed answers outside the 1-5 scale: how many, and their share of the parsed answers."""
    parsed = sum(len(r.parsed) for r in results)
    count = sum(r.out_of_range for r in results)
    return {"out_of_range": count, "out_of_range_rate": count / parsed if parsed else None}


def counts(results: list[ImageScore]) -> dict[str, Any]:
    """What the correlations rest on: images, images left without a score, unparsable completions (counted,
    never replaced by a number), files that failed, and the visual tokens the model saw per image."""
    tokens = [r.visual_tokens for r in results if r.visual_tokens is not None]
    return {
        "n_images": len(results),
        "n_unscored": sum(r.error is None and not r.parsed for r in results),
        "n_errors": sum(r.error is not None for r in results),
        "parse_failures": sum(r.parse_failures for r in results),
        **out_of_range_counts(results),
        "visual_tokens_mean": float(sum(tokens) / len(tokens)) if tokens else None,
        "visual_tokens_max": max(tokens) if tokens else None,
    }


def _baseline_metrics(
    params: Params, paths: dict[str, list[Path]], mos: dict[str, pd.Series]
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Metrics of each baseline that could be loaded, and a note for each one skipped."""
    out: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    settings = params.evaluate
    for name in settings.baselines:
        loaded = baselines.load(name, settings.baseline_weights)
        if loaded.metric is None:
            notes.append(f"baseline {name} skipped: {loaded.skipped}")
            continue
        per_set = {}
        for ds, ds_paths in paths.items():
            pred = baselines.score(loaded, ds_paths, settings.resize_short_edge.get(ds))
            per_set[ds] = dataset_metrics(
                pred, mos[ds].to_numpy(dtype=float), settings.bootstrap, params.seed
            ) | ordered_pairs(pred, [str(p) for p in ds_paths])
        out[name] = {"datasets": per_set, "mean": mean_over(per_set)}
    return out, notes


def _report_settings(params: Params, adapter_dir: Path | None, weights: Path | None) -> dict[str, Any]:
    """What the report states it was made with: the model, the sampling settings and the seed."""
    model_label = str(weights or params.model.base) + (f" + adapter {adapter_dir}" if adapter_dir else "")
    keys = {"backend", "samples", "temperature", "top_p", "top_k", "max_new_tokens", "thinking"}
    keys |= {"batch_size", "bootstrap", "max_images", "resize_short_edge"}
    pixels = params.evaluate.max_pixels
    return {
        "model": model_label,
        **params.evaluate.model_dump(include=keys),
        "max_pixels": pixels if pixels is not None else "the processor's own limit (native resolution)",
        "seed": params.seed,
    }


def evaluate_workspace(
    root: Path, params: Params, adapter: str | None = None, progress: bool = True
) -> dict[str, Any]:
    """Evaluate the workspace at ``root`` under ``params``; returns the metrics written to reports/eval/metrics.json.

    ``adapter``: None = the run's own weights, ``"none"`` = the base model alone, or an adapter folder.
    """
    root = Path(root)
    params = resolve_model_base(params, root)
    settings = params.evaluate
    frames = {
        name: subset(test_rows(root, name), settings.max_images, params.seed)
        for name in eval_datasets(params)
    }
    for name, frame in frames.items():
        if frame.empty:
            raise DataError(f"{validated_path(root, name)}: no test rows to evaluate")
    adapter_dir, weights = resolve_weights(root, params, adapter)
    scorer = build_scorer(params, adapter=adapter_dir, weights=weights)
    metrics: dict[str, Any] = {"datasets": {}}
    predictions: dict[str, pd.DataFrame] = {}
    paths = {name: [root / p for p in frame["image"]] for name, frame in frames.items()}
    with atomic_dir(root / EVAL_DIR) as staging:
        (staging / "predictions").mkdir()
        (staging / "reasoning").mkdir()
        (staging / "plots").mkdir()
        for name, frame in frames.items():
            if progress:
                print(f"evaluate: {name} ({len(frame)} images)", file=sys.stderr)
            results = scorer.score(paths[name], settings.resize_short_edge.get(name), progress=progress)
            predictions[name] = predictions_frame(frame, results, settings.samples)
            predictions[name].to_csv(staging / "predictions" / f"{name}.csv", index=False)
            (staging / "reasoning" / f"{name}.jsonl").write_text(
                reasoning_jsonl(frame, results), encoding="utf-8"
            )
            pred = predictions[name]["mean"].to_numpy(dtype=float)
            mos = predictions[name]["mos"].to_numpy(dtype=float)
            m = dataset_metrics(pred, mos, settings.bootstrap, params.seed, parse_failure_rate(results))
            if catalogue.get(name).group_relative:
                m |= group_srcc(pred, mos, frame["ref_id"].to_numpy())
            m |= ordered_pairs(pred, frame["image"].tolist())
            metrics["datasets"][name] = m | counts(results)
        metrics["mean"] = mean_over(metrics["datasets"])
        notes: list[str] = []
        if settings.baselines:
            metrics["baselines"], notes = _baseline_metrics(
                params, paths, {n: f["mos"].astype(float) for n, f in frames.items()}
            )
        plots = report.write_plots(metrics, predictions, staging / "plots")
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        page = report.render_markdown(
            metrics,
            _report_settings(params, adapter_dir, weights),
            [Path("plots") / p.name for p in plots],
            notes,
        )
        (staging / "report.md").write_text(page, encoding="utf-8")
    return metrics
