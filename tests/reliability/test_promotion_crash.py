"""A promotion that dies between the challenger upload and the champion-pointer switch (real SeaweedFS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.code.test_registry import RULES, _upload, metrics
from vqr1.errors import StorageError
from vqr1.storage import artifacts, registry, s3


@pytest.mark.fault("promotion crashes between challenger upload and pointer switch")
def test_crash_between_upload_and_pointer_switch_keeps_the_old_champion(
    scorecard, s3_bucket: tuple[s3.S3Settings, s3.S3Settings], tmp_path: Path
) -> None:
    writer, _ = s3_bucket
    client = s3.client(writer)
    old, old_metrics = _upload(writer, tmp_path / "old", synthetic=0.4)
    registry.evaluate_challenger(client, writer, old, old_metrics, RULES)
    before = registry.read_champion(client, writer)

    # The upload finished but the process died before the pointer switch: nothing else happens.
    _upload(writer, tmp_path / "new", synthetic=0.9)
    assert registry.read_champion(client, writer) == before
    # A half-uploaded run (files, no manifest) cannot be promoted at all.
    half = artifacts.new_run_id()
    s3.put_bytes(client, writer, artifacts.run_prefix(half) + "reports/eval/metrics.json", b"{}", "x")
    with pytest.raises(StorageError, match="no manifest"):
        registry.promote(client, writer, half, metrics(synthetic=0.99), before[1])
    assert registry.read_champion(client, writer) == before
    # And the old champion still downloads intact.
    artifacts.download_run(client, writer, old, tmp_path / "champion")
    assert (tmp_path / "champion" / "models" / "demo" / "adapter" / "adapter_config.json").is_file()
    scorecard.happened = (
        "pointer still names the old champion (same ETag); half-uploaded run refused (no manifest); "
        "old champion downloads with checksums verified"
    )
