"""Evaluation metrics: a hand-computed case, NaN handling, the 4PL fit, seeded bootstrap CIs, paper numbers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from vqr1.evaluate import metrics, paper, report


@pytest.fixture
def pairs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    mos = rng.uniform(1, 5, 60)
    pred = mos + rng.normal(0, 0.8, 60)
    return pred, mos


def test_correlations_of_a_hand_computed_case() -> None:
    """pred 1..5 against MOS (2, 1, 4, 3, 5): two neighbouring pairs swapped.

    SRCC = 1 - 6 * sum(d^2) / (n (n^2 - 1)) with rank differences d = (-1, 1, -1, 1, 0): 1 - 6*4/120 = 0.8.
    KRCC = (concordant - discordant) / pairs = (8 - 2) / 10 = 0.6.
    PLCC: deviations from the means (3, 3) are (-2, -1, 0, 1, 2) and (-1, -2, 1, 0, 2); products sum to 8,
    squares to 10 and 10, so 8 / sqrt(10 * 10) = 0.8."""
    m = metrics.dataset_metrics(
        np.arange(1.0, 6.0), np.array([2.0, 1.0, 4.0, 3.0, 5.0]), n_resamples=0, seed=0
    )
    assert (m["srcc"], m["krcc"], m["plcc"], m["n"]) == pytest.approx((0.8, 0.6, 0.8, 5))
    assert m["srcc_ci"] is None  # no resamples asked


def test_nan_predictions_are_dropped_not_filled(pairs: tuple[np.ndarray, np.ndarray]) -> None:
    pred, mos = pairs
    holed = pred.copy()
    holed[:5] = np.nan
    m = metrics.dataset_metrics(holed, mos, n_resamples=0, seed=0, parse_failure_rate=0.25)
    assert m["n"] == len(pred) - 5
    assert m["srcc"] == pytest.approx(stats.spearmanr(pred[5:], mos[5:]).statistic)
    assert m["parse_failure_rate"] == 0.25


def test_undefined_metrics_are_none() -> None:
    mos = np.linspace(1, 5, 10)
    constant = metrics.dataset_metrics(np.full(10, 3.0), mos, n_resamples=20, seed=0)
    assert all(constant[k] is None for k in ("srcc", "krcc", "plcc", "plcc_4pl", "srcc_ci", "plcc_ci"))
    too_few = metrics.dataset_metrics(np.array([1.0, 2.0]), np.array([2.0, 1.0]), n_resamples=20, seed=0)
    assert too_few["srcc"] is None and too_few["n"] == 2
    # and each says why, in words
    assert constant["undefined"] == "one answer for all 10 images: 3"
    assert too_few["undefined"] == "2 image(s) scored, fewer than 3"
    flat_mos = metrics.dataset_metrics(mos, np.full(10, 2.0), n_resamples=20, seed=0)
    assert flat_mos["undefined"] == "every one of the 10 images has the same MOS"
    assert "undefined" not in metrics.dataset_metrics(mos, mos, n_resamples=20, seed=0)


def test_report_says_why_a_correlation_is_undefined_beside_a_baseline() -> None:
    """A model that gave every image one answer: its row says so in words; the baseline's row has numbers."""
    mos = np.linspace(1, 5, 12)
    ours = {"synthetic": {**metrics.dataset_metrics(np.full(12, 3.3), mos, 0, 0, 0.0), "n_errors": 0}}
    piqe = {"synthetic": metrics.dataset_metrics(mos + np.sin(mos), mos, 0, 0)}
    page = report.render_markdown(
        {
            "datasets": ours,
            "mean": metrics.mean_over(ours),
            "baselines": {"piqe": {"datasets": piqe, "mean": metrics.mean_over(piqe)}},
        },
        {"seed": 0},
        [],
        [],
    )
    srcc_table = page[page.index("SRCC:") : page.index("PLCC, ours raw")]
    ours_row = next(line for line in srcc_table.splitlines() if line.startswith("| ours "))
    assert "one answer for all 12 images: 3.3" in ours_row
    piqe_row = next(line for line in srcc_table.splitlines() if line.startswith("| piqe (measured)"))
    assert f"{piqe['synthetic']['srcc']:.3f}" in piqe_row


def test_logistic4_fit_recovers_known_parameters() -> None:
    rng = np.random.default_rng(3)
    truth = (4.6, 1.2, 2.5, 0.4)
    x = rng.uniform(0.5, 4.5, 400)
    y = metrics.logistic4(x, *truth) + rng.normal(0, 0.02, x.size)
    fitted = metrics.fit_logistic4(x, y)
    assert fitted is not None
    np.testing.assert_allclose(fitted, truth, rtol=0.05)


def test_plcc_4pl_removes_a_monotone_nonlinearity() -> None:
    x = np.linspace(0, 1, 200)
    y = metrics.logistic4(x, 5.0, 1.0, 0.5, 0.05)
    raw = metrics.plcc(x, y)
    assert metrics.plcc_4pl(x, y) == pytest.approx(1.0, abs=1e-6)
    assert raw < 0.99


def test_bootstrap_is_deterministic_with_a_seed(pairs: tuple[np.ndarray, np.ndarray]) -> None:
    pred, mos = pairs
    first = metrics.bootstrap_ci(pred, mos, metrics.srcc, n_resamples=200, seed=42)
    again = metrics.bootstrap_ci(pred, mos, metrics.srcc, n_resamples=200, seed=42)
    other = metrics.bootstrap_ci(pred, mos, metrics.srcc, n_resamples=200, seed=43)
    assert first == again
    assert first != other
    assert first is not None and first["low"] < metrics.srcc(pred, mos) < first["high"]


def test_mean_over_datasets_is_none_when_one_lacks_a_value() -> None:
    per_set = {"a": {"srcc": 0.5, "krcc": 0.3, "plcc": 0.6, "plcc_4pl": 0.7}, "b": {"srcc": 0.7}}
    mean = metrics.mean_over(per_set)
    assert mean["srcc"] == pytest.approx(0.6)
    assert mean["plcc"] is None


def test_report_puts_paper_numbers_beside_ours() -> None:
    rng = np.random.default_rng(0)
    mos = rng.uniform(1, 5, 30)
    per_set = {
        name: {**metrics.dataset_metrics(mos + rng.normal(0, 1, 30), mos, 50, 0, 0.0), "n_errors": 0}
        for name in ("bid", "synthetic")
    }
    page = report.render_markdown(
        {"datasets": per_set, "mean": metrics.mean_over(per_set)}, {"seed": 0}, [], ["a note"]
    )
    assert f"{paper.SRCC[paper.REFERENCE]['BID']:.3f}" in page
    assert f"{paper.PLCC[paper.REFERENCE]['BID']:.3f}" in page
    assert f"{per_set['bid']['srcc']:.3f}" in page
    assert "- a note" in page
    assert paper.paper_value(paper.SRCC, paper.REFERENCE, "synthetic") is None


def test_group_srcc_compares_within_groups() -> None:
    """Two groups of 4, each perfectly ordered but on its own scale (as SRIQA-Bench's 0-100 per group)."""
    mos = np.array([0, 30, 60, 100, 0, 30, 60, 100, 50, 50], dtype=float)
    pred = np.array([1.0, 1.1, 1.2, 1.3, 4.0, 4.1, 4.2, 4.3, np.nan, 2.0])
    groups = np.array(["a"] * 4 + ["b"] * 4 + ["c"] * 2)
    out = metrics.group_srcc(pred, mos, groups)
    assert out == {"srcc_group_mean": pytest.approx(1.0), "n_groups": 2}, (
        "group c: one scored image, left out"
    )
    pooled = metrics.dataset_metrics(pred, mos, 0, 0)["srcc"]
    assert pooled < 0.6, "pooled, the two scales mix"
    reversed_b = pred.copy()
    reversed_b[4:8] = reversed_b[4:8][::-1]
    assert metrics.group_srcc(reversed_b, mos, groups)["srcc_group_mean"] == pytest.approx(0.0)


def test_report_shows_raw_and_4pl_plcc_group_srcc_and_counts_beside_the_paper() -> None:
    rng = np.random.default_rng(0)
    mos = rng.uniform(1, 5, 30)
    sets = {}
    for name in ("sriqa_bench", "bid"):
        pred = mos + rng.normal(0, 1, 30)
        sets[name] = {
            **metrics.dataset_metrics(pred, mos, 0, 0, 0.1),
            "n_images": 33,
            "parse_failures": 3,
            "visual_tokens_mean": 999.0,
            "visual_tokens_max": 1036,
        }
    sets["sriqa_bench"] |= metrics.group_srcc(
        mos + rng.normal(0, 1, 30), mos, np.repeat(["g1", "g2", "g3"], 10)
    )
    page = report.render_markdown({"datasets": sets, "mean": metrics.mean_over(sets)}, {"seed": 0}, [], [])
    plcc_table = page[page.index("PLCC, ours raw") :]
    raw = next(line for line in plcc_table.splitlines() if line.startswith("| ours (raw)"))
    fitted = next(line for line in plcc_table.splitlines() if line.startswith("| ours (4PL)"))
    assert f"{sets['bid']['plcc']:.3f}" in raw and f"{sets['bid']['plcc_4pl']:.3f}" in fitted
    assert f"| paper: {paper.REFERENCE} | {paper.PLCC[paper.REFERENCE]['SR']:.3f}" in plcc_table
    group_row = next(line for line in page.splitlines() if line.startswith("| ours (per-group mean)"))
    assert f"{sets['sriqa_bench']['srcc_group_mean']:.3f}" in group_row and group_row.endswith("| — |")
    assert "(3 groups)" in page
    assert "| images scored / listed | 30 / 33 | 30 / 33 |" in page
    assert "| unparsable completions | 3 | 3 |" in page and "999 (max 1036)" in page


def test_4pl_needs_four_points() -> None:
    """Three scored images have an SRCC but no 4PL fit (curve_fit refuses more parameters than points)."""
    m = metrics.dataset_metrics(np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 2.0]), 0, 0)
    assert m["srcc"] == pytest.approx(0.5) and m["plcc_4pl"] is None
