"""Completions crafted against the score parser get a defined result quickly."""

from __future__ import annotations

import time

import pytest

from vqr1.parsing import has_format, parse_score


@pytest.mark.fault("completion with 5,000 answer tags")
def test_thousands_of_answer_tags(scorecard) -> None:
    text = "<answer>1</answer>" * 4999 + "<answer>4.5</answer>"
    t0 = time.perf_counter()
    score = parse_score(text)
    elapsed = time.perf_counter() - t0
    assert score == 4.5 and elapsed < 1.0
    scorecard.happened = f"last answer parsed (4.5) in {elapsed * 1000:.1f} ms"


@pytest.mark.fault("1 MB completion without a closing tag")
def test_megabyte_completion(scorecard) -> None:
    text = "<think>" + "a" * (1 << 20) + "<answer>" + "9" * 1000
    t0 = time.perf_counter()
    score = parse_score(text)
    fmt = has_format(text)
    elapsed = time.perf_counter() - t0
    assert score is None and not fmt and elapsed < 2.0
    scorecard.happened = f"unparsable (None), no format, {elapsed * 1000:.0f} ms"


@pytest.mark.fault("number like 1e309 / 400-digit integer")
def test_overflowing_numbers(scorecard) -> None:
    assert parse_score("<answer>1e309</answer>") == 1.0  # the pattern has no exponent: first number is 1
    assert parse_score("<answer>" + "9" * 400 + "</answer>") is None  # overflows to inf: unparsable
    assert parse_score("<answer>-0.5</answer>") == -0.5
    scorecard.happened = "1e309 -> 1.0 (no exponents), 400 digits -> unparsable, negatives kept"


@pytest.mark.fault("unicode digits and nan/inf words")
def test_unicode_digits_and_words(scorecard) -> None:
    assert parse_score("<answer>٣.٥</answer>") is None  # Arabic-Indic digits are not ASCII numbers
    assert parse_score("<answer>nan</answer>") is None
    assert parse_score("<answer>inf</answer>") is None
    scorecard.happened = "unparsable (None) for each"
