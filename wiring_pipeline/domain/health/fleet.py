"""Wiring health of many partitions at once: the nightly pass and `health --all` at scale.

Measuring one partition costs a round trip (and, through Dagster, a run of about half a
minute), so thousands of engagements are measured in chunks: one statement counts every
metric of every partition of a chunk, one more stores their snapshots. The counting SQL is
the per-partition statement itself, with its two tenant parameters bound to each row of
the chunk instead of to constants, so a fleet count and a partition's own count are the
same query and cannot disagree; every subquery stays scoped by both tenant columns and
runs on the indexes that lead with them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from wiring_pipeline.domain.contract.metrics import METRICS, Metric
from wiring_pipeline.domain.core.tenancy import TenantScope
from wiring_pipeline.domain.health.measure import COUNTS_SQL, WiringHealth, sample_rows

#: Partitions measured per statement: big enough to amortise round trips, small enough
#: that one chunk's transaction stays short and a progress line appears every few seconds.
CHUNK_SIZE = 1_000

_TENANT_PARAMETER = re.compile(r":(client_account_id|engagement_id)\b")
_CORRELATED_COUNTS = _TENANT_PARAMETER.sub(r"p.\1", COUNTS_SQL.text)

# The per-partition count statement, correlated to `p`: one row of counts per partition.
_FLEET_COUNTS = f"""
    SELECT p.ord, c.*{{previous_column}}
    FROM unnest(CAST(:client_account_ids AS uuid[]), CAST(:engagement_ids AS uuid[]))
         WITH ORDINALITY AS p(client_account_id, engagement_id, ord)
    CROSS JOIN LATERAL ({_CORRELATED_COUNTS}) AS c
    {{previous_join}}
    ORDER BY p.ord
"""
_COUNTS_ONLY_SQL = text(_FLEET_COUNTS.format(previous_column="", previous_join=""))
# With each partition's latest snapshot: what the nightly pass compares against.
_COUNTS_AND_PREVIOUS_SQL = text(
    _FLEET_COUNTS.format(
        previous_column=", prev.metrics AS previous_metrics",
        previous_join="""
    LEFT JOIN LATERAL (
        SELECT s.metrics FROM migration.wiring_health_snapshots s
        WHERE s.client_account_id = p.client_account_id AND s.engagement_id = p.engagement_id
        ORDER BY s.id DESC LIMIT 1
    ) AS prev ON true""",
    )
)

_RECORD_SQL = text(
    """
    INSERT INTO migration.wiring_health_snapshots
        (client_account_id, engagement_id, partition_key, metrics, health_status, dagster_run_id)
    SELECT s.client_account_id, s.engagement_id, s.partition_key, s.metrics, s.health_status,
           :dagster_run_id
    FROM unnest(CAST(:client_account_ids AS uuid[]), CAST(:engagement_ids AS uuid[]),
                CAST(:partition_keys AS text[]), CAST(:metrics AS jsonb[]),
                CAST(:health_statuses AS text[]))
         AS s(client_account_id, engagement_id, partition_key, metrics, health_status)
    """
)


@dataclass(frozen=True)
class Measured:
    """A partition's health now, and the metrics of its latest snapshot before this one."""

    health: WiringHealth
    previous: dict[str, int] | None

    def changed_metrics(self) -> list[Metric]:
        """The metrics a person has not seen yet: those whose count moved since the last
        snapshot, or, for a partition never measured before, those that fail."""
        counts = self.health.metrics
        if self.previous is None:
            return [m for m in METRICS if m.fails(counts[m.name], None)]
        return [m for m in METRICS if counts[m.name] != int(self.previous.get(m.name, 0))]


def _chunk_params(scopes: Sequence[TenantScope]) -> dict:
    return {
        "client_account_ids": [s.client_account_id for s in scopes],
        "engagement_ids": [s.engagement_id for s in scopes],
    }


def measure_partitions(conn: Connection, scopes: Sequence[TenantScope]) -> list[WiringHealth]:
    """Every metric of every partition in `scopes`, in one statement, in their order."""
    rows = conn.execute(_COUNTS_ONLY_SQL, _chunk_params(scopes)).all()
    return [_health(scope, row) for scope, row in zip(scopes, rows, strict=True)]


def measure_and_record(
    conn: Connection, scopes: Sequence[TenantScope], dagster_run_id: str | None
) -> list[Measured]:
    """Measure the partitions, store a snapshot of each, and return each beside its previous.

    Two statements whatever the number of partitions; the caller's transaction makes the
    snapshots of the chunk all-or-nothing.
    """
    if not scopes:
        return []
    rows = conn.execute(_COUNTS_AND_PREVIOUS_SQL, _chunk_params(scopes)).all()
    measured = [
        Measured(
            _health(scope, row),
            None
            if row.previous_metrics is None
            else {name: int(count) for name, count in row.previous_metrics.items()},
        )
        for scope, row in zip(scopes, rows, strict=True)
    ]
    conn.execute(
        _RECORD_SQL,
        {
            **_chunk_params(scopes),
            "partition_keys": [s.partition_key for s in scopes],
            "metrics": [json.dumps(m.health.metrics) for m in measured],
            "health_statuses": [m.health.health_status for m in measured],
            "dagster_run_id": dagster_run_id,
        },
    )
    return measured


def with_samples(
    conn: Connection, health: WiringHealth, metrics: Sequence[Metric] = METRICS
) -> WiringHealth:
    """The measurement with samples of each of `metrics` that is non-zero (detail mode).

    Costs a round trip per non-zero metric, so fleet-wide work asks it only of the few
    partitions it reports in detail.
    """
    samples = {
        m.name: sample_rows(conn, health.scope, m) for m in metrics if health.metrics[m.name]
    }
    return WiringHealth(health.scope, health.metrics, samples)


def _health(scope: TenantScope, row) -> WiringHealth:
    return WiringHealth(scope, {m.name: int(row._mapping[m.name]) for m in METRICS}, None)


def chunked(scopes: Sequence[TenantScope], size: int = CHUNK_SIZE) -> list[Sequence[TenantScope]]:
    return [scopes[start : start + size] for start in range(0, len(scopes), size)]
