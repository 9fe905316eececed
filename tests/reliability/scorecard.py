"""The reliability scorecard: every test here is one fault or hostile input, and records what happened.

`make reliability` runs this folder and prints a table (fault, what happened, anything lost, verdict)
ending with ``N passed, N failed``; the same tests also run in `make test`.

A plugin of the root conftest (``pytest_plugins``), not a folder conftest: under pytest-xdist the controller
process, which prints the summary, never collects the folder. Each test's entry travels to it in the
teardown report's ``user_properties``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import pytest


@dataclass
class Entry:
    fault: str
    happened: str = ""
    lost: str = "nothing"


@dataclass
class Card:
    entries: dict[str, Entry] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)


_CARD = Card()


@pytest.fixture
def scorecard(request: pytest.FixtureRequest) -> Iterator[Entry]:
    """Fill in ``happened`` (and ``lost`` when something was) during the test."""
    marker = request.node.get_closest_marker("fault")
    entry = Entry(fault=marker.args[0] if marker else request.node.name)
    yield entry
    request.node.user_properties.append(("scorecard", asdict(entry)))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fault(name): a fault-injection or hostile-input case on the scorecard"
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == "scorecard":
            _CARD.entries[report.nodeid] = Entry(**value)
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _CARD.outcomes[report.nodeid] = report.outcome


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _CARD.entries:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="reliability scorecard", show_lines=False)
    for col in ("fault / hostile input", "what happened", "lost", "verdict"):
        table.add_column(col, overflow="fold")
    passed = failed = 0
    for nodeid, entry in _CARD.entries.items():
        outcome = _CARD.outcomes.get(nodeid, "failed")
        ok = outcome == "passed"
        passed += ok
        failed += outcome == "failed"
        table.add_row(
            entry.fault, entry.happened or "-", entry.lost, "[green]pass[/]" if ok else f"[red]{outcome}[/]"
        )
    console = Console(file=terminalreporter._tw._file, width=150, force_terminal=False)
    console.print(table)
    terminalreporter.write_line(f"scorecard: {passed} passed, {failed} failed")
