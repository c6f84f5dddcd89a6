"""The history of a partition's wiring health: every measurement is kept, the first is the
baseline.

Phase 0 of the source plan is "know exactly what's broken before fixing": a backfill or a
new import is only judged by comparing the partition against where it started and against
where it was last time, so a snapshot is stored every time health is measured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from wiring_pipeline.domain.contract.metrics import METRICS
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter
from wiring_pipeline.domain.health.measure import WiringHealth

_SCOPE = tenant_filter()

# One statement: every part of it sees the history as it was before this snapshot, so
# "previous" is the latest earlier snapshot and "baseline" the first (none on first run).
_RECORD_SQL = text(
    f"""
    WITH previous AS (
        SELECT id, measured_at, metrics FROM migration.wiring_health_snapshots
        WHERE {_SCOPE} ORDER BY id DESC LIMIT 1
    ), baseline AS (
        SELECT id, measured_at, metrics FROM migration.wiring_health_snapshots
        WHERE {_SCOPE} ORDER BY id LIMIT 1
    ), inserted AS (
        INSERT INTO migration.wiring_health_snapshots
            (client_account_id, engagement_id, partition_key, metrics, health_status,
             dagster_run_id)
        VALUES (:client_account_id, :engagement_id, :partition_key, CAST(:metrics AS jsonb),
                :health_status, :dagster_run_id)
        RETURNING id, measured_at, metrics
    )
    SELECT i.id, i.measured_at, i.metrics,
           p.id AS previous_id, p.measured_at AS previous_measured_at,
           p.metrics AS previous_metrics,
           b.id AS baseline_id, b.measured_at AS baseline_measured_at,
           b.metrics AS baseline_metrics
    FROM inserted i LEFT JOIN previous p ON true LEFT JOIN baseline b ON true
    """
)


@dataclass(frozen=True)
class Snapshot:
    id: int
    measured_at: datetime
    metrics: dict[str, int]


@dataclass(frozen=True)
class RecordedHealth:
    """A stored snapshot with the two snapshots it is judged against.

    `previous` and `baseline` are None for a partition's first snapshot, which then is
    the baseline itself.
    """

    health: WiringHealth
    snapshot: Snapshot
    previous: Snapshot | None
    baseline: Snapshot | None

    @property
    def delta_vs_previous(self) -> dict[str, int]:
        return metric_deltas(self.snapshot, self.previous)

    @property
    def delta_vs_baseline(self) -> dict[str, int]:
        return metric_deltas(self.snapshot, self.baseline)


def metric_deltas(current: Snapshot, earlier: Snapshot | None) -> dict[str, int]:
    """Change of every metric since `earlier` (zero against itself when there is none).

    A metric missing from an older snapshot counts as 0 there, so adding a metric later
    shows its whole count as new rather than failing on old history.
    """
    base = earlier.metrics if earlier is not None else current.metrics
    return {m.name: current.metrics[m.name] - int(base.get(m.name, 0)) for m in METRICS}


_PREVIOUS_SQL = text(
    f"""
    SELECT metrics FROM migration.wiring_health_snapshots
    WHERE {_SCOPE} AND dagster_run_id IS DISTINCT FROM :dagster_run_id
    ORDER BY id DESC LIMIT 1
    """
)


def previous_metrics(
    conn: Connection, scope: TenantScope, dagster_run_id: str | None
) -> dict[str, int] | None:
    """The metrics of the partition's latest snapshot recorded by another run (None: none).

    A check judged against it sees what was there before its own run measured.
    """
    row = conn.execute(
        _PREVIOUS_SQL, {**scope.as_params(), "dagster_run_id": dagster_run_id}
    ).one_or_none()
    return None if row is None else {name: int(count) for name, count in row.metrics.items()}


def record_snapshot(
    conn: Connection, health: WiringHealth, dagster_run_id: str | None
) -> RecordedHealth:
    """Store the measurement as the partition's newest snapshot."""
    row = conn.execute(
        _RECORD_SQL,
        {
            **health.scope.as_params(),
            "partition_key": health.scope.partition_key,
            "metrics": json.dumps(health.metrics),
            "health_status": health.health_status,
            "dagster_run_id": dagster_run_id,
        },
    ).one()

    def snapshot(prefix: str) -> Snapshot | None:
        if row._mapping[f"{prefix}id"] is None:
            return None
        return Snapshot(
            row._mapping[f"{prefix}id"],
            row._mapping[f"{prefix}measured_at"],
            dict(row._mapping[f"{prefix}metrics"]),
        )

    return RecordedHealth(health, snapshot(""), snapshot("previous_"), snapshot("baseline_"))


@dataclass(frozen=True)
class LatestHealth:
    partition_key: str
    measured_at: datetime
    metrics: dict[str, int]
    health_status: str


# The newest snapshot of every partition in one statement, each found through the
# tenant-leading (client_account_id, engagement_id, id) index.
_LATEST_SQL = text(
    """
    SELECT DISTINCT ON (client_account_id, engagement_id)
           partition_key, measured_at, metrics, health_status
    FROM migration.wiring_health_snapshots
    ORDER BY client_account_id, engagement_id, id DESC
    """
)


def latest_snapshots(conn: Connection) -> list[LatestHealth]:
    """Every partition's latest measurement, for fleet-wide monitoring, in key order."""
    rows = conn.execute(_LATEST_SQL).all()
    latest = [
        LatestHealth(row.partition_key, row.measured_at, dict(row.metrics), row.health_status)
        for row in rows
    ]
    return sorted(latest, key=lambda snapshot: snapshot.partition_key)
