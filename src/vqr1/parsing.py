"""The one score parser, shared by the rewards and by evaluation.

Which text counts (SPEC §1; each deviation from the reference code is listed in docs/evaluation.md,
"Parsing"):

1. the LAST complete ``<answer>...</answer>`` block, found exactly as the reference's
   ``re.findall(r"<answer>(.*?)</answer>", text, re.DOTALL)[-1]`` finds it;
2. no complete block, but an ``<answer>`` was opened (a completion cut by the token limit): the text
   after the last ``<answer>``;
3. no answer tag at all: the whole text except the reasoning, i.e. after the last ``</think>``, and
   nothing of a ``<think>`` that was never closed.

A number in the reasoning never becomes the score. In that text the score is the first whole numeric
token (``-0.5``, ``.5``, ``3.``, ``4e0``; ASCII digits only); a token whose value is not finite (``1e309``,
400 digits, which overflow) is unparsable, and so are ``nan`` and ``inf`` (words, not numbers here).

Why no tag regex: ``<answer>(.*?)</answer>`` over a completion full of unclosed tags rescans the rest of
the text from every tag, which is quadratic (seconds per completion at 100 KiB). Here every step is a
``str.find`` moving forward or one regex search whose pattern cannot backtrack past a token, so the time
is linear in the length and no completion needs to be cut before parsing.
"""

from __future__ import annotations

import math
import re

OPEN, CLOSE = "<answer>", "</answer>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
# A whole numeric token: optional sign, digits with an optional fraction, or a bare fraction, then an
# optional exponent. Each alternative fails within a character or two, so a search is linear.
_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_SPACE = re.compile(r"\s*")  # the regex's own \s, so has_format agrees with the pattern it replaces


def _last_block(text: str) -> tuple[int, int] | None:
    """(start, end) of the last complete answer block's content, with findall's non-overlapping scan."""
    found, pos = None, 0
    while (start := text.find(OPEN, pos)) >= 0:
        end = text.find(CLOSE, start + len(OPEN))
        if end < 0:
            break
        found, pos = (start + len(OPEN), end), end + len(CLOSE)
    return found


def answer_text(completion: str) -> str:
    """The text the score is read from (rules 1-3 of the module docstring)."""
    block = _last_block(completion)
    if block is not None:
        return completion[block[0] : block[1]]
    opened = completion.rfind(OPEN)
    if opened >= 0:
        return completion[opened + len(OPEN) :]
    closed = completion.rfind(THINK_CLOSE)
    outside = completion[closed + len(THINK_CLOSE) :] if closed >= 0 else completion
    unclosed = outside.find(THINK_OPEN)
    return outside if unclosed < 0 else outside[:unclosed]


def parse_number(text: str) -> float | None:
    """The first whole numeric token of ``text``, or None when there is none or it is not finite."""
    match = _NUMBER.search(text)
    if match is None:
        return None
    value = float(match.group(0))
    return value if math.isfinite(value) else None


def parse_score(completion: str) -> float | None:
    """The score in a completion, or None when its answer holds no finite number."""
    return parse_number(answer_text(completion))


def has_format(completion: str) -> bool:
    """True when the WHOLE completion matches ``<think>.*?</think>\\s*<answer>.*?</answer>`` (DOTALL).

    Same verdict as that regex's fullmatch, in linear time: the text starts with ``<think>``, ends with
    ``</answer>``, and some ``</think>`` after the opening tag is followed by whitespace and an
    ``<answer>`` that ends before the closing tag starts. The whitespace runs after distinct
    ``</think>`` tags cannot overlap, so the scan reads each character at most twice.
    """
    if not (completion.startswith(THINK_OPEN) and completion.endswith(CLOSE)):
        return False
    last_open = len(completion) - len(CLOSE) - len(OPEN)  # the latest an <answer> may start
    pos = len(THINK_OPEN)
    while (close := completion.find(THINK_CLOSE, pos)) >= 0:
        after = close + len(THINK_CLOSE)
        end = _SPACE.match(completion, after).end()  # \s* always matches, possibly empty
        if end > last_open:
            return False
        if completion.startswith(OPEN, end):
            return True
        pos = after
    return False
