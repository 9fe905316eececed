"""`vqr1 evaluate ...`: the evaluate stage outside DVC, the pull-request comment, and `score`
(:mod:`vqr1.inference.commands`, also at the top level as `vqr1 score`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vqr1.evaluate.pr_comment import pr_comment
from vqr1.inference.commands import score

app = typer.Typer(no_args_is_help=True, help="Evaluate: score images, run the evaluate stage.")
console = Console(soft_wrap=True)

app.command("score")(score)  # also `vqr1 score`


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
