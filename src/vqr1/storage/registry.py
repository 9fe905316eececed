"""The model registry: ``registry/champion.json`` names the serving run; it changes only on promotion.

Champion/challenger gate (params ``promotion:``): the challenger's mean SRCC must beat the champion's
by at least ``min_srcc_gain`` and no dataset's SRCC may drop by more than ``max_dataset_drop``. With
no champion yet, a challenger with a usable mean SRCC is promoted.

The pointer is one S3 object written with one conditional PUT (If-Match the ETag read before the
comparison, If-None-Match for the first champion): readers see the old pointer or the new one, a
concurrent promotion makes the slower one fail instead of silently overwriting, and a crash before
the PUT leaves the old champion. Every decision, promote or keep, is recorded under
``registry/decisions/<run-id>.json`` BEFORE the pointer moves, so the step is idempotent: a retry (the
retrain flow retries it) finds the recorded decision and returns it, finishing an interrupted promotion
first, instead of comparing the run with itself once the pointer already names it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from vqr1.config import PromotionParams
from vqr1.errors import StorageError
from vqr1.markdown import table
from vqr1.storage import artifacts, s3

CHAMPION_KEY = "registry/champion.json"
DECISIONS_PREFIX = "registry/decisions"
# The data a model was trained and evaluated on, as DVC hashes it: the validated manifests, which hold
# the labels, the splits and every image's sha256. A scheduled retrain runs only when it changed.
DATA_VERSION = "data/validated"


@dataclass(frozen=True)
class Row:
    """One line of the comparison table (SRCC per dataset, plus the mean)."""

    dataset: str
    champion: float | None
    challenger: float | None
    delta: float | None
    ok: bool


@dataclass(frozen=True)
class Decision:
    challenger_run: str
    champion_run: str | None
    promote: bool
    reason: str
    rows: list[Row] = field(default_factory=list)
    decided_utc: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, raw: bytes) -> Decision:
        data = json.loads(raw)
        return cls(**{**data, "rows": [Row(**row) for row in data.get("rows", [])]})

    def markdown(self) -> str:
        """The decision and its comparison table, for the Prefect artifact and the logs."""
        verdict = "PROMOTED" if self.promote else "kept the champion"
        lines = [
            f"## Retrain decision: {verdict}",
            "",
            f"- challenger: `{self.challenger_run}`",
            f"- champion: `{self.champion_run or 'none'}`",
            f"- reason: {self.reason}",
            "",
            table(
                ["SRCC", "champion", "challenger", "delta", "ok"],
                (
                    [
                        r.dataset,
                        _fmt(r.champion),
                        _fmt(r.challenger),
                        _fmt(r.delta, sign=True),
                        "yes" if r.ok else "NO",
                    ]
                    for r in self.rows
                ),
            ),
        ]
        return "\n".join(lines) + "\n"


def _fmt(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.4f}" if sign else f"{value:.4f}"


def _num(value: Any) -> float | None:
    """A finite float, else None (a set where nothing parsed has no SRCC)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def srcc_by_dataset(metrics: dict[str, Any]) -> dict[str, float | None]:
    return {name: _num(m.get("srcc")) for name, m in (metrics.get("datasets") or {}).items()}


def decide(
    challenger: dict[str, Any],
    champion: dict[str, Any] | None,
    rules: PromotionParams,
    challenger_run: str,
    champion_run: str | None = None,
) -> Decision:
    """Compare evaluation metrics (reports/eval/metrics.json shape) under the promotion gate."""
    new_mean = _num((challenger.get("mean") or {}).get("srcc"))
    new_sets = srcc_by_dataset(challenger)
    if champion is None:
        rows = [Row(name, None, value, None, value is not None) for name, value in new_sets.items()]
        rows.append(Row("mean", None, new_mean, None, new_mean is not None))
        if new_mean is None:
            return Decision(
                challenger_run, None, False, "no champion, but the challenger has no mean SRCC", rows
            )
        return Decision(
            challenger_run, None, True, "no champion yet: the first usable model is promoted", rows
        )

    old_mean = _num((champion.get("mean") or {}).get("srcc"))
    old_sets = srcc_by_dataset(champion)
    rows, failures = [], []
    for name, old in old_sets.items():
        new = new_sets.get(name)
        delta = new - old if new is not None and old is not None else None
        ok = old is None or (delta is not None and delta >= -rules.max_dataset_drop)
        if not ok:
            failures.append(
                f"{name} SRCC {'missing' if new is None else f'dropped by {-delta:.4f}'} "
                f"(tolerance {rules.max_dataset_drop})"
            )
        rows.append(Row(name, old, new, delta, ok))
    rows += [Row(name, None, new, None, True) for name, new in new_sets.items() if name not in old_sets]
    gain = new_mean - old_mean if new_mean is not None and old_mean is not None else None
    gain_ok = new_mean is not None and (
        old_mean is None or (gain is not None and gain >= rules.min_srcc_gain)
    )
    rows.append(Row("mean", old_mean, new_mean, gain, gain_ok))
    if not gain_ok:
        failures.insert(
            0,
            "challenger has no mean SRCC"
            if new_mean is None
            else f"mean SRCC gain {gain:+.4f} < required {rules.min_srcc_gain}",
        )
    if failures:
        return Decision(challenger_run, champion_run, False, "; ".join(failures), rows)
    return Decision(
        challenger_run,
        champion_run,
        True,
        f"mean SRCC gain {_fmt(gain, sign=True)} >= {rules.min_srcc_gain}, no dataset dropped more than "
        f"{rules.max_dataset_drop}",
        rows,
    )


def data_version(data_versions: dict[str, str]) -> str | None:
    """The DATA_VERSION entry of a run's data versions (artifacts.data_versions), None when absent."""
    return data_versions.get(DATA_VERSION)


def read_champion(client: BaseClient, settings: s3.S3Settings) -> tuple[dict[str, Any] | None, str | None]:
    """(champion record, its ETag) or (None, None) when nothing was promoted yet."""
    try:
        response = client.get_object(Bucket=settings.bucket, Key=CHAMPION_KEY)
    except ClientError as exc:
        if s3.error_code(exc) in {"NoSuchKey", "404", "NotFound"}:
            return None, None
        raise s3.storage_error(f"get {CHAMPION_KEY}", settings, exc) from exc
    except BotoCoreError as exc:
        raise s3.storage_error(f"get {CHAMPION_KEY}", settings, exc) from exc
    try:
        return json.loads(response["Body"].read()), response["ETag"]
    except ValueError as exc:
        raise StorageError(f"{settings.uri(CHAMPION_KEY)}: not valid JSON ({exc})") from exc


def promote(
    client: BaseClient,
    settings: s3.S3Settings,
    run_id: str,
    metrics: dict[str, Any],
    expected_etag: str | None,
) -> dict[str, Any]:
    """Point the champion at ``run_id`` if the pointer is still the one compared against."""
    manifest = artifacts.read_manifest(client, settings, run_id)  # only complete uploads are promoted
    record = {
        "run_id": run_id,
        "promoted_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": manifest.git_commit,
        "params_sha256": manifest.params_sha256,
        "data_versions": manifest.data_versions,
        "metrics": metrics,
    }
    condition = {"IfMatch": expected_etag} if expected_etag else {"IfNoneMatch": "*"}
    try:
        client.put_object(
            Bucket=settings.bucket,
            Key=CHAMPION_KEY,
            Body=(json.dumps(record, indent=2) + "\n").encode(),
            ContentType="application/json",
            **condition,
        )
    except ClientError as exc:
        if s3.error_code(exc) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
            raise StorageError(
                f"{settings.uri(CHAMPION_KEY)}: the champion changed during this comparison; "
                f"run {run_id} was not promoted (rerun the retrain flow)"
            ) from exc
        raise s3.storage_error(f"put {CHAMPION_KEY}", settings, exc) from exc
    except BotoCoreError as exc:
        raise s3.storage_error(f"put {CHAMPION_KEY}", settings, exc) from exc
    return record


def decision_key(run_id: str) -> str:
    artifacts.run_prefix(run_id)  # the same name check as the run's own keys
    return f"{DECISIONS_PREFIX}/{run_id}.json"


def record_decision(client: BaseClient, settings: s3.S3Settings, decision: Decision) -> str:
    key = decision_key(decision.challenger_run)
    s3.put_bytes(client, settings, key, decision.to_json().encode(), "application/json")
    return key


def read_decision(client: BaseClient, settings: s3.S3Settings, run_id: str) -> Decision | None:
    """The decision recorded for ``run_id``, or None when it was never decided."""
    key = decision_key(run_id)
    raw = s3.get_bytes(client, settings, key)
    if raw is None:
        return None
    try:
        return Decision.from_json(raw)
    except (ValueError, TypeError) as exc:
        raise StorageError(f"{settings.uri(key)}: unreadable decision ({exc})") from exc


def evaluate_challenger(
    client: BaseClient,
    settings: s3.S3Settings,
    run_id: str,
    metrics: dict[str, Any],
    rules: PromotionParams,
) -> Decision:
    """Compare the uploaded run with the champion, record the decision, then promote if it passes.

    Idempotent: with a decision already recorded for ``run_id`` (a retry after a failure anywhere in
    here), that decision is returned; a recorded promotion whose pointer write did not happen is
    completed first, provided the pointer still names the champion it was compared against (else the
    run is compared anew with the champion that replaced it).
    """
    champion, etag = read_champion(client, settings)
    current = champion["run_id"] if champion else None
    recorded = read_decision(client, settings, run_id)
    if recorded is not None and (not recorded.promote or current == run_id):
        return recorded  # decided, and whatever it decided has happened
    if recorded is not None and current == recorded.champion_run:
        promote(client, settings, run_id, metrics, etag)  # the interrupted pointer move
        return recorded
    decision = decide(metrics, champion["metrics"] if champion else None, rules, run_id, current)
    record_decision(client, settings, decision)
    if decision.promote:
        promote(client, settings, run_id, metrics, etag)
    return decision
