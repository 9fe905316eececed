"""Completions crafted against the score parser get a defined result quickly.

Time bounds here are 1 s of this thread's CPU time for work that takes about a millisecond in linear
time; the quadratic tag regexes this parser replaced took 20 s for 128 KiB of unclosed ``<answer>`` tags,
so the bound separates the two by orders of magnitude either way. CPU time, not wall time: on a loaded
machine (other test workers, other processes) the thread may wait for a core, which wall time would count.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vqr1.parsing import has_format, parse_score

SIZE = 256 * 1024
BOUND_S = 1.0
FRAGMENTS = ["<answer>", "</answer>", "<think>", "</think>", "<answer", " ", "\n", "9", ".", "-", "e", "a"]


def _timed(text: str) -> tuple[float | None, bool, float]:
    t0 = time.thread_time()
    score, fmt = parse_score(text), has_format(text)
    return score, fmt, time.thread_time() - t0


@pytest.mark.fault("completion with 5,000 answer tags")
def test_thousands_of_answer_tags(scorecard) -> None:
    score, _, elapsed = _timed("<answer>1</answer>" * 4999 + "<answer>4.5</answer>")
    assert score == 4.5 and elapsed < BOUND_S
    scorecard.happened = f"last answer parsed (4.5) in {elapsed * 1000:.1f} ms"


@pytest.mark.fault("256 KiB of unclosed <answer> / repeated '</think><answer>'")
@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("unclosed <answer>", "<answer>" * (SIZE // 8)),
        ("'</think><answer>' repeated", "<think>" + "</think><answer>" * (SIZE // 16)),
        ("'<think></think><answer>' repeated", "<think>" + "<think></think><answer>" * (SIZE // 23)),
    ],
)
def test_unclosed_tags_are_linear(scorecard, name: str, text: str) -> None:
    score, fmt, elapsed = _timed(text)
    assert score is None and not fmt and elapsed < BOUND_S
    scorecard.fault = f"256 KiB completion: {name}"
    scorecard.happened = (
        f"unparsable, no format, {elapsed * 1000:.1f} ms for parse_score + has_format "
        "(the old tag regexes: 20 s for 128 KiB, quadratic)"
    )


@pytest.mark.fault("256 KiB adversarial completions (hypothesis: repeated tag fragments)")
def test_adversarial_completions_stay_linear(scorecard) -> None:
    timings: list[float] = []

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(
        st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6).map("".join),
        st.sampled_from(["", "<think>", "<answer>", "<think>x</think><answer>"]),
        st.sampled_from(["", "</answer>", "4</answer>"]),
    )
    def check(unit: str, prefix: str, suffix: str) -> None:
        score, _, elapsed = _timed(prefix + unit * (SIZE // len(unit) + 1) + suffix)
        timings.append(elapsed)
        assert elapsed < BOUND_S, f"{elapsed:.2f} s for {unit!r} repeated"
        assert score is None or abs(score) < float("inf")

    check()
    scorecard.happened = (
        f"{len(timings)} generated 256 KiB strings: slowest {max(timings) * 1000:.1f} ms, "
        f"median {sorted(timings)[len(timings) // 2] * 1000:.1f} ms (parse_score + has_format)"
    )


@pytest.mark.fault("long completion: answer after > 1 MiB of reasoning with numbers, or cut")
def test_reasoning_numbers_never_become_the_score(scorecard) -> None:
    reasoning = "<think>" + "2 artefacts at 1024 px; " * 50_000 + "</think>"
    assert len(reasoning) > 1 << 20
    assert parse_score(reasoning + "<answer>4.25</answer>") == 4.25
    assert parse_score(reasoning + "<answer>4.") == 4.0  # cut by the token limit inside the answer
    assert parse_score(reasoning + "<answer>") is None  # cut right after the tag
    assert parse_score(reasoning[: 1 << 19]) is None  # cut inside the reasoning
    scorecard.happened = (
        "answer read after 1.2 MB of reasoning (4.25); cut answer read from its own block (4.0); "
        "cut before any answer: unparsable (the reference takes the reasoning's first number, 2)"
    )


@pytest.mark.fault("number like .5 / 1e309 / 300 and 400 digits")
def test_whole_numeric_tokens(scorecard) -> None:
    assert parse_score("<answer>.5</answer>") == 0.5  # the reference reads 5
    assert parse_score("<answer>1e309</answer>") is None  # overflows: unparsable (the reference reads 1)
    assert parse_score("<answer>" + "9" * 400 + "</answer>") is None  # overflows to inf
    assert parse_score("<answer>" + "9" * 300 + "</answer>") == pytest.approx(1e300)
    assert parse_score("<answer>-0.5</answer>") == -0.5
    scorecard.happened = (
        ".5 -> 0.5; 1e309 and 400 digits -> unparsable; 300 digits -> 1e300, a finite answer far off the "
        "scale, counted as out of range by evaluation (test_out_of_range_answers)"
    )


@pytest.mark.fault("unicode digits and nan/inf words")
def test_unicode_digits_and_words(scorecard) -> None:
    assert parse_score("<answer>٣.٥</answer>") is None  # Arabic-Indic digits are not ASCII numbers
    assert parse_score("<answer>nan</answer>") is None
    assert parse_score("<answer>inf</answer>") is None
    scorecard.happened = "unparsable (None) for each"
