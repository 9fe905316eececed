"""The retrain flow's champion-challenger task retried by Prefect after a storage fault at each write.

Real parts: the task with its production retry count (delays set to 0), a Prefect test server, a real
SeaweedFS. The fault is injected with boto3's own event hooks on the client the task creates: before a
request is sent (the write never happens) or after its answer arrived (the write happened, the caller
never learns it), once, on the decision record or on the champion pointer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import BotoCoreError
from flows.retrain import compare_and_promote
from prefect import flow

from tests.code.test_registry import RULES, _upload
from tests.fixtures_storage import SeaweedHandle
from vqr1.storage import registry, s3


class InjectedFault(BotoCoreError):
    fmt = "injected storage fault: {what}"


@flow(name="promotion-under-faults")
def _promote(workspace: str, storage_dir: str, run_id: str, metrics: dict[str, Any]) -> dict[str, Any]:
    return compare_and_promote.with_options(retry_delay_seconds=0)(workspace, storage_dir, run_id, metrics)


def _fail_once(monkeypatch: pytest.MonkeyPatch, event: str, key: str) -> list[str]:
    """Make the first ``event`` (before-send / after-call) of a PutObject on ``key`` raise; returns a log
    of the matching requests."""
    log: list[str] = []
    real_client: Callable[..., Any] = s3.client

    def handler(**kwargs: Any) -> None:
        message = kwargs["request"] if event == "before-send" else kwargs["http_response"]
        if message.url.endswith("/" + key):
            log.append(event)
            if len(log) == 1:
                raise InjectedFault(what=f"{event} PutObject {key}")

    def client(settings: s3.S3Settings, attempts: int = 3) -> Any:
        made = real_client(settings, attempts)
        made.meta.events.register(f"{event}.s3.PutObject", handler)
        return made

    monkeypatch.setattr(s3, "client", client)
    return log


@pytest.fixture
def contest(
    seaweed_server: SeaweedHandle, s3_bucket: tuple[s3.S3Settings, s3.S3Settings], tmp_path: Path
) -> dict[str, Any]:
    """A champion in the store and a better challenger uploaded, with a workspace naming the bucket."""
    writer, _ = s3_bucket
    client = s3.client(writer)
    old, old_metrics = _upload(writer, tmp_path / "old", synthetic=0.4)
    registry.evaluate_challenger(client, writer, old, old_metrics, RULES)
    new, new_metrics = _upload(writer, tmp_path / "new", synthetic=0.6)
    params = yaml.safe_load((tmp_path / "new" / "params.yaml").read_text())
    params["storage"]["bucket"] = writer.bucket
    params["promotion"] = RULES.model_dump()
    (tmp_path / "new" / "params.yaml").write_text(yaml.safe_dump(params))
    return {
        "ws": str(tmp_path / "new"),
        "storage": str(seaweed_server.storage_dir),
        "writer": writer,
        "old": old,
        "new": new,
        "metrics": new_metrics,
    }


CASES = {
    "decision write fails before it is sent": ("before-send", "decision"),
    "champion pointer write fails before it is sent": ("before-send", "pointer"),
    "champion pointer written, its answer lost": ("after-call", "pointer"),
}


@pytest.mark.fault("champion-challenger task retried by Prefect after a failed storage write")
@pytest.mark.parametrize("case", list(CASES))
def test_promotion_is_idempotent_under_retries(
    scorecard, contest: dict[str, Any], prefect_harness: None, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    event, which = CASES[case]
    key = registry.decision_key(contest["new"]) if which == "decision" else registry.CHAMPION_KEY
    log = _fail_once(monkeypatch, event, key)
    decision = _promote(contest["ws"], contest["storage"], contest["new"], contest["metrics"])
    monkeypatch.undo()

    writer = contest["writer"]
    client = s3.client(writer)
    champion, _ = registry.read_champion(client, writer)
    recorded = json.loads(s3.get_bytes(client, writer, registry.decision_key(contest["new"])) or b"{}")
    assert log[0] == event and len(log) >= 1, log
    assert decision["promote"] is True, decision["reason"]
    assert champion is not None and champion["run_id"] == contest["new"]
    assert recorded["promote"] is True and recorded["champion_run"] == contest["old"]
    assert recorded["reason"] == decision["reason"]
    scorecard.fault = f"promotion retried by Prefect: {case}"
    scorecard.happened = (
        "the retry found the recorded decision (or none, and decided again against the same champion): "
        f"PROMOTED, pointer names the challenger, the record says promote vs {contest['old'][:15]}... "
        "(before: a retry after the pointer moved compared the run with itself and recorded 'kept')"
    )
