"""Markdown tables (reports, model card, PR comment, Prefect artifacts) through tabulate.

GitHub pipe tables with cells written as given: no number re-formatting (values arrive formatted) and
no padding, so a row reads the same in the raw text as in the rendered page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tabulate import tabulate


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table of ``str(cell)`` (None: empty), so numbers keep the form they were given in."""
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    return tabulate(cells, headers=list(headers), tablefmt="github", disable_numparse=True, stralign=None)
