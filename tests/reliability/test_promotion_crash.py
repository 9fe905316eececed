"""A promotion that dies between the challenger upload and the champion-pointer switch (real SeaweedFS).

The fault is injected through boto3's own event hooks, as in the mid-transfer tests: when the promotion's
PutObject of ``registry/champion.json`` is about to be sent, the hook raises an exception no handler
catches (the process dying there), so the crash always falls exactly between upload and switch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.code.test_registry import RULES, _upload, metrics
from vqr1.errors import StorageError
from vqr1.storage import artifacts, registry, s3


class ProcessDied(BaseException):
    """The promoting process dying: a BaseException, so no ``except Exception`` on the way can absorb it."""


@pytest.mark.fault("promotion crashes between challenger upload and pointer switch")
def test_crash_between_upload_and_pointer_switch_keeps_the_old_champion(
    scorecard, s3_bucket: tuple[s3.S3Settings, s3.S3Settings], tmp_path: Path
) -> None:
    writer, _ = s3_bucket
    client = s3.client(writer)
    old, old_metrics = _upload(writer, tmp_path / "old", synthetic=0.4)
    registry.evaluate_challenger(client, writer, old, old_metrics, RULES)
    before = registry.read_champion(client, writer)
    new, new_metrics = _upload(writer, tmp_path / "new", synthetic=0.9)  # the challenger's upload completes

    dying = s3.client(writer)
    puts: list[str] = []

    def die_at_the_pointer_switch(request: Any, **_: Any) -> None:
        puts.append(request.url)
        if request.url.endswith(registry.CHAMPION_KEY):
            raise ProcessDied

    dying.meta.events.register("before-send.s3.PutObject", die_at_the_pointer_switch)
    with pytest.raises(ProcessDied):
        registry.evaluate_challenger(dying, writer, new, new_metrics, RULES)
    assert puts and puts[-1].endswith(registry.CHAMPION_KEY)  # it died at the switch, nothing after it
    assert registry.read_champion(client, writer) == before  # same record, same ETag

    # A half-uploaded run (files, no manifest) cannot be promoted at all.
    half = artifacts.new_run_id()
    s3.put_bytes(client, writer, artifacts.run_prefix(half) + "reports/eval/metrics.json", b"{}", "x")
    with pytest.raises(StorageError, match="no manifest"):
        registry.promote(client, writer, half, metrics(synthetic=0.99), before[1])
    assert registry.read_champion(client, writer) == before
    # The old champion still downloads intact, and the rerun of the comparison promotes the challenger.
    artifacts.download_run(client, writer, old, tmp_path / "champion")
    assert (tmp_path / "champion" / "models" / "demo" / "adapter" / "adapter_config.json").is_file()
    assert registry.evaluate_challenger(client, writer, new, new_metrics, RULES).promote
    assert registry.read_champion(client, writer)[0]["run_id"] == new
    scorecard.happened = (
        "died at the champion.json PutObject (boto3 before-send): pointer still names the old champion "
        "(same ETag); half-uploaded run refused (no manifest); old champion downloads verified; the rerun "
        "promotes the challenger"
    )
