"""The one identifier check for names that become paths or S3 keys (run ids, run names, dataset names).

A name is 1-64 characters of letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit,
and never ``..``: no separators, whitespace, shell metacharacters or control characters can reach a
path, an S3 key or a command line.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_name(kind: str, value: str) -> str:
    """Return ``value`` when it is a safe identifier, else raise ValueError naming the kind and the value."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or ".." in value:
        raise ValueError(
            f"invalid {kind} {value!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value
