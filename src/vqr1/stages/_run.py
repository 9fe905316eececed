"""Shared entry point of the stage modules: user-fixable errors become one line and exit status 1."""

from __future__ import annotations

import sys
from collections.abc import Callable

from vqr1.errors import Vqr1Error


def main(stage: Callable[[], object]) -> None:
    """Run ``stage``; a Vqr1Error prints ``error: <message>`` on stderr and exits 1 (no traceback)."""
    try:
        stage()
    except Vqr1Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
