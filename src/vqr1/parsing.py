"""The one score parser, shared by the rewards and by evaluation.

Reference behaviour (SPEC §1): take the LAST ``<answer>...</answer>`` block (or the whole text if
there is none), then the first number ``-?\\d+(\\.\\d+)?``. ASCII digits only: unicode digits are not
numbers here. A value that is not finite (``1e309`` cannot occur with this pattern, but a 400-digit
integer overflows to inf) is treated as unparsable.
"""

from __future__ import annotations

import math
import re

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_FORMAT = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
# Completions longer than this are cut before matching: bounds the regex work on hostile input.
MAX_CHARS = 1 << 20


def answer_text(completion: str) -> str:
    """The content of the last answer block, or the whole completion when there is none."""
    text = completion[:MAX_CHARS]
    last = None
    for last in _ANSWER.finditer(text):  # noqa: B007 - we want the final match
        pass
    return last.group(1) if last else text


def parse_score(completion: str) -> float | None:
    """The score in a completion, or None when it has no (finite) number."""
    match = _NUMBER.search(answer_text(completion))
    if match is None:
        return None
    value = float(match.group(0))
    return value if math.isfinite(value) else None


def has_format(completion: str) -> bool:
    """True when the WHOLE completion is ``<think>...</think> <answer>...</answer>``."""
    return _FORMAT.fullmatch(completion[:MAX_CHARS]) is not None
