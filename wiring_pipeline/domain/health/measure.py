"""The wiring metrics of a partition (DESIGN section 3): what is broken, counted exactly.

The metrics are declared in `domain/contract/`; this module measures them. Each is a
predicate over one table (or a sum of such), scoped by both tenant columns; the same
predicate counts the rows and, in detail mode, samples them, so a count and its samples
can never disagree. Anti-joins are `NOT EXISTS` (a `NOT IN` over a column with NULLs
counts nothing), and a NULL reference is a missing link, not an orphan.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from wiring_pipeline.domain.contract.metrics import METRICS, METRICS_BY_NAME, Metric
from wiring_pipeline.domain.core.tenancy import TenantScope

__all__ = ["METRICS", "METRICS_BY_NAME", "Metric", "WiringHealth", "measure_wiring_health"]

SAMPLE_LIMIT = 5
#: The WARN metric whose count says whether the inventory holds the whole source.
COMPLETENESS_METRIC = "source_rows_not_in_inventory"


def count_sql(metric: Metric) -> str:
    return " + ".join(f"(SELECT count(*) {part.source()})" for part in metric.parts)


def sample_sql(metric: Metric) -> str:
    parts = " UNION ALL ".join(
        f"(SELECT {part.columns} {part.source()} ORDER BY 3, 1 LIMIT {SAMPLE_LIMIT})"
        for part in metric.parts
    )
    return f"SELECT * FROM ({parts}) AS s ORDER BY created_at, id LIMIT {SAMPLE_LIMIT}"


#: Every metric of the contract folded into one statement: one round trip per measurement.
COUNTS_SQL = text("SELECT " + ", ".join(f"{count_sql(m)} AS {m.name}" for m in METRICS))


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

    @property
    def completeness(self) -> str:
        """Whether every row of each flow's latest import reached the inventory (DESIGN 3b):
        perfect wiring of a third of the source must not read as plainly healthy."""
        return "incomplete" if self.metrics.get(COMPLETENESS_METRIC, 0) else "complete"

    def as_json(self) -> dict:
        """The source plan's endpoint shape: metrics, health_status, tenant, samples."""
        return {
            "metrics": dict(self.metrics),
            "health_status": self.health_status,
            "completeness": self.completeness,
            "tenant": self.scope.as_json(),
            "samples": self.samples,
        }


def count_metrics(conn: Connection, scope: TenantScope) -> dict[str, int]:
    """All the metrics in one round trip."""
    row = conn.execute(COUNTS_SQL, scope.as_params()).one()
    return {m.name: int(row._mapping[m.name]) for m in METRICS}


def sample_rows(conn: Connection, scope: TenantScope, metric: Metric) -> list[dict]:
    """Up to five violating rows of one metric: id, name, created_at."""
    rows = conn.execute(text(sample_sql(metric)), scope.as_params()).all()
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
