"""``vqr1 score`` and ``vqr1 serve``: scoring images for people and machines, and serving a model.

``score`` prints each image's reasoning and score, ``--json`` for machines, a CSV per folder; with ``--out
scores.parquet`` it scores a large collection (folders, globs, a manifest, an ``s3://`` prefix) into one
Parquet file as it goes, ``--resume`` continuing a killed run. Inside a workspace (a ``params.yaml``) the
model and settings come from its params; anywhere, ``--model SOURCE`` (a folder, a hub repo id, ``champion``
or a server URL) scores with the model's own settings. A file that cannot be scored gets its own error and a
non-zero exit at the end; the rest still score.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape

from vqr1.errors import ConfigError
from vqr1.fsutil import atomic_path
from vqr1.inference.remote import DEFAULT_CONCURRENCY, is_url

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
FOLDER_CSV = "vqr1_scores.csv"


def score(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Image files, folders (recursive), glob patterns, a manifest .parquet or s3://bucket/prefix/"
        ),
    ],
    params: Annotated[
        Path, typer.Option(help="params.yaml to read model and inference settings from (when it exists)")
    ] = Path("params.yaml"),
    adapter: Annotated[
        str | None,
        typer.Option(
            help="LoRA adapter folder, or 'none' for the base model (in a workspace: models/<run>/adapter)"
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="SOURCE: a model folder (merged or full weights), a Hugging Face repo id, 'champion' "
            "or an OpenAI-compatible server URL http(s)://HOST:PORT/v1"
        ),
    ] = None,
    backend: Annotated[str | None, typer.Option(help="hf, vllm or remote (a URL implies remote)")] = None,
    samples: Annotated[int | None, typer.Option(help="Completions per image (mean and std reported)")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature (0 = greedy)")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per generate call")] = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="Completion length limit")] = None,
    thinking: Annotated[
        bool | None, typer.Option("--thinking/--no-thinking", help="Reasoning prompt or answer-only prompt")
    ] = None,
    max_pixels: Annotated[
        int | None, typer.Option(help="Pixel cap of the processor (default: the model's)")
    ] = None,
    short_edge: Annotated[
        int | None, typer.Option(help="Downscale so the short edge is this many pixels (SPAQ: 768)")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Requests in flight to a server")] = DEFAULT_CONCURRENCY,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array instead of text")] = False,
    csv: Annotated[
        Path | None,
        typer.Option(help=f"Write all results to this CSV (default for a folder: <folder>/{FOLDER_CSV})"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Batch mode: write one row per image to this Parquet file as it goes (progress bar)"
        ),
    ] = None,
    resume: Annotated[bool, typer.Option(help="With --out: skip the images already in the file")] = False,
    texts: Annotated[bool, typer.Option(help="With --out: keep the completions (column texts)")] = False,
) -> None:
    """Score images with a VisualQuality-R1 model: reasoning and score per image, or a Parquet file with --out."""
    from vqr1.inference import batch
    from vqr1.inference.images import expand_paths
    from vqr1.inference.scorer import ImageScore

    overrides = {
        "samples": samples,
        "temperature": temperature,
        "batch_size": batch_size,
        "max_new_tokens": max_new_tokens,
        "thinking": thinking,
        "max_pixels": max_pixels,
    }
    if out is None and any(batch.is_batch_input(p) for p in paths):
        raise ConfigError("glob patterns, manifests and s3:// prefixes are scored with --out scores.parquet")
    if out is not None:
        stores = batch.Stores()
        names = batch.collect(paths, stores)
        if not names:
            raise ConfigError(f"no image files in {', '.join(paths)}")
        scorer = _scorer(params, model, adapter, backend, concurrency, overrides)
        scored, skipped, failed = batch.run(
            scorer, names, out, stores, resume, short_edge, texts, progress=True
        )
        err_console.print(f"{scored} images scored, {skipped} already in {out}, {failed} errors: {out}")
        if failed:
            raise typer.Exit(1)
        return
    files = expand_paths([Path(p) for p in paths])
    if not files:
        raise ConfigError(f"no image files in {', '.join(paths)}")
    if any(f.is_file() for f in files) or (model is not None and is_url(model)):
        scorer = _scorer(params, model, adapter, backend, concurrency, overrides)
        results = scorer.score(files, short_edge, progress=len(files) > scorer.settings.batch_size)
    else:  # nothing exists: report each path without loading the model first
        results = [ImageScore(str(f), error=f"{f}: no such file") for f in files]
    records = [r.as_dict() for r in results]
    if as_json:
        print(json.dumps(records, indent=2))
    else:
        for r in results:
            _print_result(r)
    for target in _csv_targets([Path(p) for p in paths], csv):
        frame = pd.DataFrame(records).drop(columns=["reasoning"])
        frame["scores"] = [json.dumps(s) for s in frame["scores"]]
        with atomic_path(target) as tmp:
            frame.to_csv(tmp, index=False)
        err_console.print(f"scores written to {target}")
    failed = sum(r.error is not None for r in results)
    if failed:
        err_console.print(f"[red]{failed} of {len(results)} files could not be scored[/]")
        raise typer.Exit(1)


def _scorer(
    params: Path,
    model: str | None,
    adapter: str | None,
    backend: str | None,
    concurrency: int,
    overrides: dict[str, Any],
) -> Any:
    """The workspace's scorer (its params, its run's weights), or ``--model SOURCE``'s with its own settings
    (inside a workspace its evaluate settings apply on top of them, and the command line on top of both)."""
    from vqr1.config import load_params
    from vqr1.inference.api import load
    from vqr1.inference.scorer import build_scorer, resolve_weights
    from vqr1.layout import resolve_model_base

    workspace = params.is_file()
    if not workspace and model is None:
        raise ConfigError(
            f"{params}: no params.yaml here; pass --model SOURCE (a model folder, a Hugging Face repo id, "
            "'champion' or an http(s)://HOST:PORT/v1 server URL)"
        )
    cfg = resolve_model_base(load_params(params), params.resolve().parent) if workspace else None
    if cfg is not None and (model is None or not _is_source(model)):
        settings = cfg.evaluate.model_copy(update={"backend": backend or cfg.evaluate.backend})
        try:
            settings = settings.model_validate({**settings.model_dump(), **_given(overrides)})
        except ValueError as exc:
            raise ConfigError(f"invalid scoring options: {exc}") from exc
        if model is not None and adapter is None:
            adapter = "none"  # merged weights already hold the adapter
        adapter_dir, weights = resolve_weights(params.resolve().parent, cfg, adapter)
        return build_scorer(
            cfg, adapter=adapter_dir, weights=Path(model) if model else weights, settings=settings
        )
    assert model is not None
    inherited: dict[str, Any] = {}
    if cfg is not None:
        e = cfg.evaluate
        inherited = {
            "thinking": e.thinking,
            "temperature": e.temperature,
            "top_p": e.top_p,
            "top_k": e.top_k,
            "samples": e.samples,
            "max_new_tokens": e.max_new_tokens,
            "batch_size": e.batch_size,
            "max_pixels": e.max_pixels,
        }
    loaded = load(
        model,
        adapter=None if adapter in (None, "none") else adapter,
        backend=backend,
        concurrency=concurrency,
        **{**inherited, **_given(overrides)},
    )
    return loaded.scorer


def _is_source(model: str) -> bool:
    """True for sources that are not plain weights folders of the workspace: a URL, the champion, a hub id."""
    return is_url(model) or model == "champion" or not Path(model).exists()


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _csv_targets(paths: list[Path], csv: Path | None) -> list[Path]:
    if csv is not None:
        return [csv]
    folders = [p for p in paths if p.is_dir()]
    return [folders[0] / FOLDER_CSV] if len(folders) == 1 and len(paths) == 1 else []


def _print_result(result: Any) -> None:
    record = result.as_dict()
    path = escape(record["path"])
    if record["error"]:
        err_console.print(f"[red]error:[/] {escape(record['error'])}")
        return
    lo, hi = result.scale
    for i, (text, value) in enumerate(zip(record["reasoning"], record["scores"], strict=True)):
        tag = f" sample {i + 1}" if len(record["scores"]) > 1 else ""
        shown = "[yellow]unparsable answer[/]" if value is None else f"{value:g}"
        if value is not None and not lo <= value <= hi:
            shown += f" [yellow](outside {lo:g}-{hi:g}: taken as the nearest end)[/]"
        console.print(f"[dim]{path}{tag}:[/] {escape(text.strip())}  -> {shown}")
    mean, std = record["mean"], record["std"]
    if mean is None:
        console.print(f"[bold]{path}[/]: [yellow]no parsable score[/] ({record['parse_failures']} failed)")
        return
    spread = "" if std is None or math.isnan(std) else f" ± {std:.3f}"
    failures = f" ({record['parse_failures']} unparsable)" if record["parse_failures"] else ""
    failures += f" ({record['out_of_range']} out of range)" if record["out_of_range"] else ""
    console.print(f"[bold]{path}[/]: [green]{mean:.3f}{spread}[/]{failures}")


def serve(
    source: Annotated[str, typer.Argument(help="A model folder, a Hugging Face repo id or 'champion'")],
    engine: Annotated[str, typer.Option(help="transformers (CPU or GPU) or vllm (GPU)")] = "transformers",
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    adapter: Annotated[
        str | None, typer.Option(help="LoRA adapter folder (merged into the served weights)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Default seed of the server")] = 42,
    thinking: Annotated[bool | None, typer.Option("--thinking/--no-thinking", help="Prompt variant")] = None,
    max_pixels: Annotated[int | None, typer.Option(help="Pixel cap of the processor")] = None,
    temperature: Annotated[float | None, typer.Option(help="Default sampling temperature")] = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="Default completion length limit")] = None,
) -> None:
    """Serve a model with its engine's own OpenAI-compatible server (prints the URL; Ctrl-C stops it)."""
    import os

    from vqr1.inference.serve import engine_command, engine_executable, serving_folder, url
    from vqr1.inference.sources import ModelSource, resolve

    engine_executable(engine)  # before any work: the engine must be there
    found = resolve(source, adapter)
    settings = found.settings.override(
        thinking=thinking, max_pixels=max_pixels, temperature=temperature, max_new_tokens=max_new_tokens
    )
    folder = serving_folder(ModelSource(found.weights, found.adapter, settings))
    command = engine_command(engine, folder, host, port, seed)
    print(f"serving {source} with {engine} at {url(host, port)}", flush=True)
    sys.stderr.flush()
    os.execv(command[0], command)


def register(root_app: typer.Typer) -> None:
    """Add `vqr1 score` and `vqr1 serve` at the top level of ``root_app``."""
    root_app.command("score")(score)
    root_app.command("serve")(serve)
