"""The pull-request evaluation comment: ``dvc metrics diff --json`` and the plots as one markdown text.

The PR workflow (.github/workflows/pr-eval.yml) posts what this renders; the hidden marker on the
first line lets the workflow update its previous comment instead of adding a new one each push.
Headline metrics (SRCC, PLCC, KRCC, parse failures) form the table; everything else that DVC
reports sits in a collapsed section. Run as ``vqr1 evaluate pr-comment DIFF.json ...``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer

from vqr1.errors import DataError
from vqr1.markdown import table

MARKER = "<!-- vqr1-pr-eval -->"
HEADLINE = ("srcc", "plcc", "plcc_4pl", "krcc", "parse_failure_rate")
LOWER_IS_BETTER = ("parse_failure_rate",)


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _change(name: str, change: dict[str, Any]) -> str:
    old, new, diff = change.get("old"), change.get("new"), change.get("diff")
    if old is None and new is not None:
        return "new"
    if new is None and old is not None:
        return "removed"
    if (
        not isinstance(diff, int | float)
        or isinstance(diff, bool)
        or (isinstance(diff, float) and math.isnan(diff))
    ):
        return ""
    if abs(diff) < 1e-12:
        return "="
    better = (diff < 0) if name.rsplit(".", 1)[-1] in LOWER_IS_BETTER else (diff > 0)
    return f"{diff:+.4f} {'🟢' if better else '🔴'}"


def _sort_key(name: str) -> tuple[int, str]:
    return (0 if name.startswith("mean.") else 1, name)


def _table(rows: dict[str, dict[str, Any]]) -> str:
    return table(
        ["metric", "base", "this PR", "change"],
        (
            [
                f"`{name}`",
                _value(rows[name].get("old")),
                _value(rows[name].get("new")),
                _change(name, rows[name]),
            ]
            for name in sorted(rows, key=_sort_key)
        ),
    )


def render(
    diff: dict[str, dict[str, dict[str, Any]]],
    plots: list[Path],
    base_ref: str = "base",
    artifact_url: str | None = None,
) -> str:
    """Markdown for the PR comment from ``dvc metrics diff --json`` output and the plot files."""
    lines = [MARKER, f"## vqr1 evaluation: this PR vs `{base_ref}`", ""]
    if not any(diff.values()):
        lines += ["No metric changed.", ""]
    for path, metrics in sorted(diff.items()):
        if not metrics:
            continue
        headline = {k: v for k, v in metrics.items() if k.rsplit(".", 1)[-1] in HEADLINE}
        other = {k: v for k, v in metrics.items() if k not in headline}
        lines += [f"**{path}**", ""]
        lines.append(_table(headline) if headline else "No headline metric changed.")
        if other:
            lines += [
                "",
                f"<details><summary>{len(other)} other metrics</summary>",
                "",
                _table(other),
                "",
                "</details>",
            ]
        lines.append("")
    if plots:
        where = (
            f"[the workflow run's artifacts]({artifact_url})"
            if artifact_url
            else "the workflow run's artifacts"
        )
        lines += [f"**Plots** (in {where}):", ""]
        lines += [f"- `{Path(p).as_posix()}`" for p in sorted(plots)]
        lines.append("")
    lines.append("🟢 better, 🔴 worse (SRCC/PLCC/KRCC: higher is better; parse failures: lower is better).")
    return "\n".join(lines) + "\n"


def read_diff(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """``dvc metrics diff --json`` output ({} when DVC printed nothing: no metric changed)."""
    text = Path(path).read_text(encoding="utf-8").strip()
    try:
        diff = json.loads(text) if text else {}
    except ValueError as exc:
        raise DataError(f"{path}: not the JSON of `dvc metrics diff --json` ({exc})") from exc
    if not isinstance(diff, dict) or not all(isinstance(v, dict) for v in diff.values()):
        raise DataError(f"{path}: expected {{metrics file: {{metric: {{old, new, diff}}}}}}")
    return diff


def pr_comment(
    diff_json: Path = typer.Argument(..., help="output of `dvc metrics diff --json BASE`"),
    plots: list[Path] = typer.Option([], "--plot", help="plot file to list (repeatable)"),
    base_ref: str = typer.Option("base", help="name of the base branch"),
    artifact_url: str | None = typer.Option(None, help="URL of the run's uploaded artifacts"),
    out: Path | None = typer.Option(None, help="write here instead of stdout"),
) -> None:
    """Render the pull-request evaluation comment (markdown)."""
    text = render(read_diff(diff_json), plots, base_ref, artifact_url)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
