"""Champion/challenger gate and the champion pointer (real SeaweedFS)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_storage import fake_run_workspace
from vqr1.config import PromotionParams
from vqr1.errors import StorageError
from vqr1.storage import artifacts, registry, s3

RULES = PromotionParams(min_srcc_gain=0.01, max_dataset_drop=0.02)


def metrics(**srcc: float | None) -> dict[str, Any]:
    usable = [v for v in srcc.values() if v is not None]
    return {
        "datasets": {name: {"srcc": v} for name, v in srcc.items()},
        "mean": {"srcc": sum(usable) / len(usable) if usable else None},
    }


def test_first_usable_challenger_is_promoted() -> None:
    decision = registry.decide(metrics(a=0.3, b=0.5), None, RULES, "r1")
    assert decision.promote
    assert decision.rows[-1].dataset == "mean" and decision.rows[-1].challenger == pytest.approx(0.4)


def test_first_challenger_without_scores_is_not_promoted() -> None:
    assert not registry.decide(metrics(a=None), None, RULES, "r1").promote
    nan = {"datasets": {"a": {"srcc": math.nan}}, "mean": {"srcc": math.nan}}
    assert not registry.decide(nan, None, RULES, "r1").promote


@pytest.mark.parametrize(
    ("new", "promote", "reason"),
    [
        ({"a": 0.62, "b": 0.52}, True, "gain"),  # +0.02 mean, no drop
        ({"a": 0.605, "b": 0.505}, False, "mean SRCC gain"),  # +0.005 < 0.01 margin
        ({"a": 0.80, "b": 0.47}, False, "b SRCC dropped by 0.0300"),  # mean up, b drops 0.03 > 0.02
        ({"a": 0.65, "b": 0.485}, True, "gain"),  # b drops 0.015, within tolerance
        ({"a": 0.9}, False, "b SRCC missing"),  # a set the champion had is gone
        ({"a": None, "b": None}, False, "no mean SRCC"),
    ],
)
def test_gate(new: dict[str, float | None], promote: bool, reason: str) -> None:
    champion = metrics(a=0.6, b=0.5)
    decision = registry.decide(metrics(**new), champion, RULES, "new", "old")
    assert decision.promote is promote
    assert reason in decision.reason
    table = decision.markdown()
    assert ("PROMOTED" in table) is promote
    assert "| a | 0.6000 |" in table


def _upload(settings: s3.S3Settings, root: Path, **srcc: float) -> tuple[str, dict[str, Any]]:
    params = fake_run_workspace(root, srcc)
    run_id = artifacts.new_run_id()
    artifacts.upload_run(s3.client(settings), settings, root, params, run_id)
    return run_id, json.loads((root / "reports" / "eval" / "metrics.json").read_text())


def test_promotion_then_keep_and_the_pointer_only_moves_on_promotion(
    s3_bucket: tuple[s3.S3Settings, s3.S3Settings], tmp_path: Path
) -> None:
    writer, reader = s3_bucket
    client = s3.client(writer)
    first, first_metrics = _upload(writer, tmp_path / "a", synthetic=0.4)
    assert registry.evaluate_challenger(client, writer, first, first_metrics, RULES).promote
    champion, etag = registry.read_champion(s3.client(reader), reader)
    assert champion is not None and champion["run_id"] == first and etag

    worse, worse_metrics = _upload(writer, tmp_path / "b", synthetic=0.3)
    decision = registry.evaluate_challenger(client, writer, worse, worse_metrics, RULES)
    assert not decision.promote and decision.champion_run == first
    assert registry.read_champion(client, writer) == (champion, etag)
    recorded = json.loads(s3.get_bytes(client, writer, f"{registry.DECISIONS_PREFIX}/{worse}.json") or b"{}")
    assert recorded["promote"] is False and recorded["champion_run"] == first

    better, better_metrics = _upload(writer, tmp_path / "c", synthetic=0.6)
    assert registry.evaluate_challenger(client, writer, better, better_metrics, RULES).promote
    assert registry.read_champion(client, writer)[0]["run_id"] == better  # type: ignore[index]


def test_concurrent_promotion_is_refused(
    s3_bucket: tuple[s3.S3Settings, s3.S3Settings], tmp_path: Path
) -> None:
    writer, _ = s3_bucket
    client = s3.client(writer)
    a, a_metrics = _upload(writer, tmp_path / "a", synthetic=0.4)
    registry.evaluate_challenger(client, writer, a, a_metrics, RULES)
    _, stale_etag = registry.read_champion(client, writer)
    b, b_metrics = _upload(writer, tmp_path / "b", synthetic=0.6)
    registry.promote(client, writer, b, b_metrics, stale_etag)  # wins the race
    c, c_metrics = _upload(writer, tmp_path / "c", synthetic=0.7)
    with pytest.raises(StorageError, match="champion changed"):
        registry.promote(client, writer, c, c_metrics, stale_etag)  # compared against a stale champion
    with pytest.raises(StorageError, match="champion changed"):
        registry.promote(client, writer, c, c_metrics, None)  # "first champion" but one exists
    assert registry.read_champion(client, writer)[0]["run_id"] == b  # type: ignore[index]


def test_read_only_identity_cannot_promote(
    s3_bucket: tuple[s3.S3Settings, s3.S3Settings], tmp_path: Path
) -> None:
    writer, reader = s3_bucket
    run, run_metrics = _upload(writer, tmp_path, synthetic=0.5)
    with pytest.raises(StorageError, match="AccessDenied"):
        registry.promote(s3.client(reader, attempts=1), reader, run, run_metrics, None)
    assert registry.read_champion(s3.client(writer), writer) == (None, None)
