"""A model answering off the 1-5 scale: counted in the metrics and the report, and unable to wreck PLCC.

The records are what the Scorer returns for each image (completions parsed by vqr1.parsing); from there
the evaluate stage's own functions build the predictions, metrics and report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vqr1.evaluate import metrics, report
from vqr1.evaluate.evaluation import out_of_range_counts, predictions_frame
from vqr1.inference.scorer import ImageScore
from vqr1.parsing import parse_score


def _records(answers: list[str]) -> list[ImageScore]:
    texts = [f"<think>looked</think><answer>{a}</answer>" for a in answers]
    return [ImageScore(f"img{i}.png", [parse_score(t)], [t]) for i, t in enumerate(texts)]


@pytest.mark.fault("one answer of 100 (and one of 1e300) among 50 good ones")
def test_out_of_range_answers_are_counted_and_bounded(scorecard) -> None:
    rng = np.random.default_rng(0)
    mos = np.linspace(1.0, 5.0, 50)
    good = np.clip(mos + rng.normal(0, 0.45, 50), 1, 5).round(2)
    frame = {"image": [f"img{i}.png" for i in range(50)], "mos": mos}
    baseline = metrics.dataset_metrics(good, mos, 0, 0)

    answers = [f"{v:.2f}" for v in good]
    answers[10], answers[20] = "100", "9" * 300  # two images of low MOS answered far above the scale
    results = _records(answers)
    table = predictions_frame(pd.DataFrame(frame), results, samples=1)
    stats = metrics.dataset_metrics(table["mean"].to_numpy(), mos, 0, 0)
    stats.update(out_of_range_counts(results))

    raw = np.array([r.scores[0] for r in results])
    raw_plcc = metrics.plcc(raw, mos)
    assert stats["out_of_range"] == 2 and stats["out_of_range_rate"] == pytest.approx(2 / 50)
    assert table["out_of_range"].sum() == 2 and table["score_1"][10] == 100.0  # kept as written
    assert table["mean"][10] == 5.0  # taken at the top of the scale
    assert stats["n"] == 50 and stats["plcc"] > 0.8 and raw_plcc < 0.3
    per_set = {"kadid10k": stats}
    page = report.render_markdown({"datasets": per_set, "mean": metrics.mean_over(per_set)}, {}, [], [])
    assert "| 2 (4.0%) |" in page and "out of range" in page
    scorecard.happened = (
        f"both counted (out_of_range 2, rate 4%, column in the predictions and the report); they enter at the "
        f"top of the scale: PLCC {stats['plcc']:.2f} (without them {baseline['plcc']:.2f}; taken as written "
        f"{raw_plcc:.2f}), SRCC {stats['srcc']:.2f}"
    )
