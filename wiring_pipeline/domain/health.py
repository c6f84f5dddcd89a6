"""The wiring metrics of a partition (DESIGN section 3): what is broken, counted exactly.

Each metric is a predicate over one table, scoped by both tenant columns; the same
predicate counts the rows and, in detail mode, samples them, so a count and its samples
can never disagree. Anti-joins are `NOT EXISTS` (a `NOT IN` over a column with NULLs
counts nothing), and a NULL reference is a missing link, not an orphan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, text

from wiring_pipeline.domain.tenancy import TenantScope

Severity = Literal["ERROR", "WARN"]
#: When a metric's check fails: on any violating row, or only when the count grew since
#: the last measurement a person saw (for a count that is legitimately non-zero).
FailsOn = Literal["any", "growth"]
SAMPLE_LIMIT = 5

_A_SCOPE = "a.client_account_id = :client_account_id AND a.engagement_id = :engagement_id"
_R_SCOPE = "r.client_account_id = :client_account_id AND r.engagement_id = :engagement_id"
_ASSETS = f"FROM migration.assets a WHERE {_A_SCOPE}"
_RAWS = f"FROM migration.raw_import_records r WHERE {_R_SCOPE}"
_ASSET_SAMPLE = "SELECT a.id, a.name, a.created_at"
_RAW_SAMPLE = "SELECT r.id, concat('raw record, row ', r.row_number) AS name, r.created_at"


@dataclass(frozen=True)
class Metric:
    """One invariant: its name, how bad a violation is, and the rows that violate it."""

    name: str
    severity: Severity
    blocking: bool
    description: str
    #: `FROM ... WHERE ...` selecting the violating rows, each part as (select list, from).
    parts: tuple[tuple[str, str], ...]
    fails_on: FailsOn = "any"

    def fails(self, count: int, previous: dict[str, int] | None) -> bool:
        """The check's verdict; `previous` is the last snapshot of another run, if any."""
        if self.fails_on == "growth":
            return count > int((previous or {}).get(self.name, 0))
        return count > 0

    def count_sql(self) -> str:
        return " + ".join(f"(SELECT count(*) {source})" for _, source in self.parts)

    def sample_sql(self) -> str:
        parts = " UNION ALL ".join(
            f"({columns} {source} ORDER BY 3, 1 LIMIT {SAMPLE_LIMIT})"
            for columns, source in self.parts
        )
        return f"SELECT * FROM ({parts}) AS s ORDER BY created_at, id LIMIT {SAMPLE_LIMIT}"


METRICS: tuple[Metric, ...] = (
    Metric(
        "flow_based_assets_missing_discovery_flow_id",
        "ERROR",
        True,
        "flow-based inventory assets with no discovery_flow_id",
        (
            (
                _ASSET_SAMPLE,
                f"{_ASSETS} AND a.discovery_method = 'flow_based' AND a.discovery_flow_id IS NULL",
            ),
        ),
    ),
    Metric(
        "all_assets_missing_discovery_flow_id",
        "WARN",
        False,
        "inventory assets of any discovery method with no discovery_flow_id",
        ((_ASSET_SAMPLE, f"{_ASSETS} AND a.discovery_flow_id IS NULL"),),
        # Manual and imported-by-hand assets have no flow, legitimately: a warning that never
        # clears teaches people to ignore warnings, so it fails only when the count grows.
        fails_on="growth",
    ),
    Metric(
        "assets_with_orphan_raw_import_ref",
        "ERROR",
        True,
        "assets whose raw_import_records_id names no raw record of this tenant and engagement",
        (
            (
                _ASSET_SAMPLE,
                f"""{_ASSETS} AND a.raw_import_records_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM migration.raw_import_records r
                            WHERE {_R_SCOPE} AND r.id = a.raw_import_records_id)""",
            ),
        ),
    ),
    Metric(
        "raw_records_with_orphan_asset_ref",
        "ERROR",
        True,
        "raw records whose asset_id names no asset of this tenant and engagement",
        (
            (
                _RAW_SAMPLE,
                f"""{_RAWS} AND r.asset_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM migration.assets a
                            WHERE {_A_SCOPE} AND a.id = r.asset_id)""",
            ),
        ),
    ),
    Metric(
        "unprocessed_raw_records",
        "ERROR",
        False,
        "raw records not yet processed (is_processed = false)",
        ((_RAW_SAMPLE, f"{_RAWS} AND NOT r.is_processed"),),
    ),
    Metric(
        "assets_with_orphan_flow_ref",
        "ERROR",
        True,
        "assets whose discovery_flow_id names no discovery flow of this tenant and engagement",
        (
            (
                _ASSET_SAMPLE,
                f"""{_ASSETS} AND a.discovery_flow_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM migration.discovery_flows f
                            WHERE f.client_account_id = :client_account_id
                              AND f.engagement_id = :engagement_id
                              AND f.id = a.discovery_flow_id)""",
            ),
        ),
    ),
    Metric(
        "asymmetric_links",
        "ERROR",
        True,
        "links that hold in one direction only (counted on each side)",
        (
            (
                _ASSET_SAMPLE,
                f"""{_ASSETS} AND EXISTS (
                SELECT 1 FROM migration.raw_import_records r
                WHERE {_R_SCOPE} AND r.id = a.raw_import_records_id
                  AND r.asset_id IS DISTINCT FROM a.id)""",
            ),
            (
                _RAW_SAMPLE,
                f"""{_RAWS} AND EXISTS (
                SELECT 1 FROM migration.assets a
                WHERE {_A_SCOPE} AND a.id = r.asset_id
                  AND a.raw_import_records_id IS DISTINCT FROM r.id)""",
            ),
        ),
    ),
)

METRICS_BY_NAME = {metric.name: metric for metric in METRICS}
_COUNTS_SQL = text("SELECT " + ", ".join(f"{m.count_sql()} AS {m.name}" for m in METRICS))


@dataclass(frozen=True)
class WiringHealth:
    scope: TenantScope
    metrics: dict[str, int]
    samples: dict[str, list[dict]] | None

    @property
    def health_status(self) -> str:
        """Unhealthy when any ERROR metric is non-zero; WARN metrics only inform."""
        failing = any(self.metrics[m.name] for m in METRICS if m.severity == "ERROR")
        return "unhealthy" if failing else "healthy"

    def as_json(self) -> dict:
        """The source plan's endpoint shape: metrics, health_status, tenant, samples."""
        return {
            "metrics": dict(self.metrics),
            "health_status": self.health_status,
            "tenant": self.scope.as_json(),
            "samples": self.samples,
        }


def count_metrics(conn: Connection, scope: TenantScope) -> dict[str, int]:
    """All seven metrics in one round trip."""
    row = conn.execute(_COUNTS_SQL, scope.as_params()).one()
    return {m.name: int(row._mapping[m.name]) for m in METRICS}


def sample_rows(conn: Connection, scope: TenantScope, metric: Metric) -> list[dict]:
    """Up to five violating rows of one metric: id, name, created_at."""
    rows = conn.execute(text(metric.sample_sql()), scope.as_params()).all()
    return [
        {"id": str(row.id), "name": row.name, "created_at": row.created_at.isoformat()}
        for row in rows
    ]


def measure_wiring_health(
    conn: Connection, scope: TenantScope, detail: bool = False
) -> WiringHealth:
    """The partition's metrics, and in detail mode samples of every non-zero metric."""
    metrics = count_metrics(conn, scope)
    samples = None
    if detail:
        samples = {m.name: sample_rows(conn, scope, m) for m in METRICS if metrics[m.name] > 0}
    return WiringHealth(scope, metrics, samples)
