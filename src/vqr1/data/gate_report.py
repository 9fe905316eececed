"""The data gate's findings in words: the failed-expectation lines of the gate's error and its markdown report.

Both read the gate's summary (reports/gate/summary.json), so the message a user sees when the stage
stops and the report attached to the flow run describe a failure the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vqr1.markdown import table


def describe_failure(dataset: str, failure: Mapping[str, Any]) -> str:
    """One failed expectation: dataset, expectation, column, what was found and the first example."""
    if failure.get("exception"):
        detail = f"could not run: {failure['exception']}"
    elif failure.get("missing"):
        detail = f"no rows with {failure['missing']}"
    elif failure.get("unexpected_count") is not None:
        detail = f"{failure['unexpected_count']} unexpected"
    else:
        detail = f"observed {failure.get('observed_value')}, expected {failure.get('kwargs')}"
    column = f" on {failure['column']}" if failure.get("column") else ""
    line = f"{dataset}: {failure.get('expectation')}{column}: {detail}"
    if failure.get("examples"):
        example = failure["examples"][0]  # a row: its image, and the image's error when it has one
        line += f", e.g. {example.get('image', example)}"
        line += f" ({example['error']})" if example.get("error") else ""
    return line


def failure_lines(summary: Mapping[str, Any]) -> list[str]:
    """:func:`describe_failure` for every failed expectation of every dataset in the summary."""
    return [
        describe_failure(name, failure)
        for name, ds in summary.get("datasets", {}).items()
        for failure in ds.get("failed", [])
    ]


def gate_markdown(summary: Mapping[str, Any]) -> str:
    """The gate report as markdown: verdict and row count per dataset, then each failed expectation."""
    lines = [f"## Data gate: {'PASSED' if summary.get('success') else 'FAILED'}", ""]
    rows = [
        [name, ds.get("rows"), "pass" if ds.get("success") else "FAIL", len(ds.get("failed", []))]
        for name, ds in summary.get("datasets", {}).items()
    ]
    lines.append(table(["dataset", "rows", "result", "failed expectations"], rows))
    lines += [f"- {line}" for line in failure_lines(summary)]
    if summary.get("data_docs"):
        lines += ["", f"Great Expectations Data Docs: `{summary['data_docs']}`"]
    return "\n".join(lines) + "\n"
