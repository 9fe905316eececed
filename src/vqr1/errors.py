"""Exceptions the CLI turns into one readable line (no traceback) and a non-zero exit; :func:`exit_on_error`,
inside which every entry point runs.

Messages quote what the user gave us (file names, label values, column names), and hostile input can make
those huge: ``shorten`` cuts a quoted value, and every error message is capped, so no input can turn an
error into megabytes of terminal output.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from vqr1.process import as_entry_point

MAX_MESSAGE_CHARS = 8_000
MAX_VALUE_CHARS = 120


def shorten(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """``repr`` of ``value`` (control characters and NUL escaped), cut to about ``limit`` characters."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value):,} characters)"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


class Vqr1Error(Exception):
    """Base class: a problem the user can fix, with a message naming the file and the problem."""

    def __init__(self, *args: object) -> None:
        if len(args) == 1 and isinstance(args[0], str) and len(args[0]) > MAX_MESSAGE_CHARS:
            cut = len(args[0]) - MAX_MESSAGE_CHARS
            args = (f"{args[0][:MAX_MESSAGE_CHARS]}\n… ({cut:,} more characters cut)",)
        super().__init__(*args)


class ConfigError(Vqr1Error):
    """params.yaml or an overlay is missing, malformed or invalid."""


class DataError(Vqr1Error):
    """A dataset, archive, label file or image is missing, corrupt or unsafe."""


class GateFailed(Vqr1Error):
    """The data gate found failed expectations; the report says which."""


class StorageError(Vqr1Error):
    """The S3 store or the DVC remote is unreachable or refused the request."""


class ServerError(Vqr1Error):
    """A model server (OpenAI-compatible) is unreachable, refused the request or answered nonsense."""


@contextlib.contextmanager
def exit_on_error() -> Iterator[None]:
    """Print a :class:`Vqr1Error` as one red ``error: <message>`` line on stderr and exit 1 (no traceback).

    Every entry point (the `vqr1` command, the DVC stage modules) runs its work inside this, which makes its
    process an entry point's (:func:`vqr1.process.as_entry_point`).
    """
    as_entry_point()
    try:
        yield
    except Vqr1Error as exc:
        from rich.console import Console
        from rich.markup import escape

        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {escape(str(exc))}")
        raise SystemExit(1) from None
