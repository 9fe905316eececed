"""`vqr1 evaluate ...` (and the top-level `vqr1 score`): scoring images for people, and the evaluate stage.

`score` prints each image's reasoning and score, `--json` for machines, a CSV per folder. A file
that cannot be scored gets its own error line and a non-zero exit at the end; the rest still score.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape

from vqr1.errors import ConfigError
from vqr1.evaluate.pr_comment import pr_comment
from vqr1.fsutil import atomic_path
from vqr1.prompts import SCORE_SCALE

app = typer.Typer(no_args_is_help=True, help="Evaluate: score images, run the evaluate stage.")
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
FOLDER_CSV = "vqr1_scores.csv"


def score(
    paths: Annotated[list[Path], typer.Argument(help="Image files and/or folders (searched recursively)")],
    params: Annotated[
        Path, typer.Option(help="params.yaml to read model and inference settings from")
    ] = Path("params.yaml"),
    adapter: Annotated[
        str | None,
        typer.Option(
            help="LoRA adapter folder, or 'none' for the base model (default: models/<run>/adapter)"
        ),
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="Merged or fully fine-tuned weights, used instead of model.base")
    ] = None,
    samples: Annotated[int | None, typer.Option(help="Completions per image (mean and std reported)")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature (0 = greedy)")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per generate call")] = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="Completion length limit")] = None,
    thinking: Annotated[
        bool | None, typer.Option("--thinking/--no-thinking", help="Reasoning prompt or answer-only prompt")
    ] = None,
    short_edge: Annotated[
        int | None, typer.Option(help="Downscale so the short edge is this many pixels (SPAQ: 768)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array instead of text")] = False,
    csv: Annotated[
        Path | None,
        typer.Option(help=f"Write all results to this CSV (default for a folder: <folder>/{FOLDER_CSV})"),
    ] = None,
) -> None:
    """Score images with the base model + LoRA adapter (or merged weights): reasoning and score per image."""
    from vqr1.config import load_params
    from vqr1.evaluate.inference import ImageScore, build_scorer, expand_paths, resolve_weights
    from vqr1.layout import resolve_model_base

    cfg = resolve_model_base(load_params(params), params.resolve().parent)
    overrides = {
        "samples": samples,
        "temperature": temperature,
        "batch_size": batch_size,
        "max_new_tokens": max_new_tokens,
        "thinking": thinking,
    }
    try:
        settings = cfg.evaluate.model_validate(
            {**cfg.evaluate.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
        )
    except ValueError as exc:
        raise ConfigError(f"invalid scoring options: {exc}") from exc
    files = expand_paths(paths)
    if not files:
        raise ConfigError(f"no image files in {', '.join(map(str, paths))}")
    if model is not None and adapter is None:
        adapter = "none"  # merged weights already hold the adapter
    adapter_dir, weights = resolve_weights(params.resolve().parent, cfg, adapter)
    if any(f.is_file() for f in files):
        scorer = build_scorer(cfg, adapter=adapter_dir, weights=model or weights, settings=settings)
        results = scorer.score(files, short_edge, progress=len(files) > settings.batch_size)
    else:  # nothing exists: report each path without loading the model first
        results = [ImageScore(str(f), error=f"{f}: no such file") for f in files]
    records = [r.as_dict() for r in results]
    if as_json:
        print(json.dumps(records, indent=2))
    else:
        for r in results:
            _print_result(r.as_dict())
    for target in _csv_targets(paths, csv):
        frame = pd.DataFrame(records).drop(columns=["reasoning"])
        frame["scores"] = [json.dumps(s) for s in frame["scores"]]
        with atomic_path(target) as tmp:
            frame.to_csv(tmp, index=False)
        err_console.print(f"scores written to {target}")
    failed = sum(r.error is not None for r in results)
    if failed:
        err_console.print(f"[red]{failed} of {len(results)} files could not be scored[/]")
        raise typer.Exit(1)


def _csv_targets(paths: list[Path], csv: Path | None) -> list[Path]:
    if csv is not None:
        return [csv]
    folders = [p for p in paths if p.is_dir()]
    return [folders[0] / FOLDER_CSV] if len(folders) == 1 and len(paths) == 1 else []


def _print_result(record: dict) -> None:
    path = escape(record["path"])
    if record["error"]:
        err_console.print(f"[red]error:[/] {escape(record['error'])}")
        return
    for i, (text, value) in enumerate(zip(record["reasoning"], record["scores"], strict=True)):
        tag = f" sample {i + 1}" if len(record["scores"]) > 1 else ""
        shown = "[yellow]unparsable answer[/]" if value is None else f"{value:g}"
        if value is not None and not SCORE_SCALE[0] <= value <= SCORE_SCALE[1]:
            shown += f" [yellow](outside {SCORE_SCALE[0]:g}-{SCORE_SCALE[1]:g}: taken as the nearest end)[/]"
        console.print(f"[dim]{path}{tag}:[/] {escape(text.strip())}  -> {shown}")
    mean, std = record["mean"], record["std"]
    if mean is None:
        console.print(f"[bold]{path}[/]: [yellow]no parsable score[/] ({record['parse_failures']} failed)")
        return
    spread = "" if std is None or math.isnan(std) else f" ± {std:.3f}"
    failures = f" ({record['parse_failures']} unparsable)" if record["parse_failures"] else ""
    failures += f" ({record['out_of_range']} out of range)" if record["out_of_range"] else ""
    console.print(f"[bold]{path}[/]: [green]{mean:.3f}{spread}[/]{failures}")


app.command("score")(score)


@app.command("run")
def run_command(
    workspace: Annotated[
        Path, typer.Option(help="Workspace root (holds params.yaml and data/validated)")
    ] = Path("."),
    adapter: Annotated[
        str | None, typer.Option(help="'none' = base model alone; or an adapter folder (default: the run's)")
    ] = None,
) -> None:
    """Evaluate a workspace outside DVC: metrics, predictions, reasoning, report and plots in reports/eval."""
    from vqr1.config import load_params
    from vqr1.evaluate.evaluation import evaluate_workspace
    from vqr1.layout import EVAL_DIR

    metrics = evaluate_workspace(workspace, load_params(workspace / "params.yaml"), adapter=adapter)
    for name, m in metrics["datasets"].items():
        console.print(f"{name}: SRCC {m['srcc']}  PLCC {m['plcc']}  n={m['n']}")
    console.print(f"report: {workspace / EVAL_DIR / 'report.md'}")


app.command("pr-comment")(pr_comment)


def register(root_app: typer.Typer) -> None:
    """Add `vqr1 score` at the top level of ``root_app``."""
    root_app.command("score")(score)
