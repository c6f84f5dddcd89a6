"""`wiring_health_fleet`: the nightly pass over every partition in one run (DESIGN 4b).

A run per partition costs about half a minute of process start and bookkeeping, so ten
thousand of them do not fit in a night. This asset measures every `tenant_engagements`
partition set-based, a chunk per transaction, and stores each partition's snapshot, as a
`wiring_health` run would. To Dagster it reports per partition only what a person has not
seen yet: the evaluation of each zero-orphan check whose count moved since the partition's
last snapshot (or that fails on a partition never measured). `wiring_check_alert_sensor`
reads those evaluations like any other, so a newly failing check alerts once, in the pass
that found it, and an unchanged one stays quiet. The asset's own materialization carries
the totals.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from dagster import (
    AssetCheckEvaluation,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)
from sqlalchemy import Connection

from wiring_pipeline.defs.health.checks import check_evaluation
from wiring_pipeline.defs.metadata import rows_table
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.contract.metrics import METRICS
from wiring_pipeline.domain.core.tenancy import list_partition_scopes
from wiring_pipeline.domain.health.fleet import Measured, chunked, measure_and_record, with_samples
from wiring_pipeline.resources import WiringDatabase

WIRING_HEALTH_FLEET_KEY = AssetKey("wiring_health_fleet")
#: Unhealthy partitions named in the materialization; the rest are counted.
LISTED_UNHEALTHY = 50


@dataclass
class FleetTotals:
    """What the fleet materialization says: how many partitions, how healthy, what moved."""

    partitions: int = 0
    unhealthy: list[str] = field(default_factory=list)
    changed_partitions: int = 0
    failed_evaluations: int = 0
    passed_evaluations: int = 0
    metric_totals: dict[str, int] = field(default_factory=lambda: {m.name: 0 for m in METRICS})

    def add(self, measured: Measured, evaluations: list[AssetCheckEvaluation]) -> None:
        health = measured.health
        self.partitions += 1
        if health.health_status == "unhealthy":
            self.unhealthy.append(health.scope.partition_key)
        self.changed_partitions += bool(evaluations)
        self.failed_evaluations += sum(not e.passed for e in evaluations)
        self.passed_evaluations += sum(e.passed for e in evaluations)
        for name, count in health.metrics.items():
            self.metric_totals[name] = self.metric_totals.get(name, 0) + count

    def metadata(self, seconds: float, not_in_database: list[str]) -> dict:
        return {
            "partitions": MetadataValue.int(self.partitions),
            "healthy": MetadataValue.int(self.partitions - len(self.unhealthy)),
            "unhealthy": MetadataValue.int(len(self.unhealthy)),
            "unhealthy_partitions": MetadataValue.json(sorted(self.unhealthy)[:LISTED_UNHEALTHY]),
            "changed_partitions": MetadataValue.int(self.changed_partitions),
            "failed_check_evaluations": MetadataValue.int(self.failed_evaluations),
            "passed_check_evaluations": MetadataValue.int(self.passed_evaluations),
            "metric_totals": MetadataValue.json(self.metric_totals),
            "metric_totals_table": rows_table(
                [{"metric": name, "total": n} for name, n in self.metric_totals.items()],
                ["metric", "total"],
            ),
            "partitions_without_engagement": MetadataValue.json(not_in_database),
            "seconds": MetadataValue.float(round(seconds, 3)),
        }


def report(conn: Connection, measured: Measured) -> list[AssetCheckEvaluation]:
    """The evaluations of the partition's changed checks, with samples of the failing rows."""
    changed = measured.changed_metrics()
    if not changed:
        return []
    detailed = with_samples(conn, measured.health, changed)
    return [check_evaluation(m, detailed, measured.previous) for m in changed]


@asset(key=WIRING_HEALTH_FLEET_KEY, group_name="discovery", kinds={"postgres"})
def wiring_health_fleet(
    context: AssetExecutionContext, wiring_db: WiringDatabase
) -> Iterator[AssetCheckEvaluation | MaterializeResult]:
    """Every partition measured and snapshotted; check results only where something changed."""
    started = time.perf_counter()
    partition_keys = set(context.instance.get_dynamic_partitions(tenant_engagements.name))
    with wiring_db.transaction() as conn:
        scopes = [s for s in list_partition_scopes(conn) if s.partition_key in partition_keys]
    not_in_database = sorted(partition_keys - {s.partition_key for s in scopes})
    totals = FleetTotals()
    for chunk in chunked(scopes):
        # The evaluations go out before the chunk commits: if the run dies in between, the
        # next pass finds the same change and reports it again rather than never.
        with wiring_db.transaction() as conn:
            for measured in measure_and_record(conn, chunk, context.run.run_id):
                evaluations = report(conn, measured)
                totals.add(measured, evaluations)
                yield from evaluations
        context.log.info(
            "measured %d of %d partitions; %d changed so far",
            totals.partitions,
            len(scopes),
            totals.changed_partitions,
        )
    yield MaterializeResult(
        metadata=totals.metadata(time.perf_counter() - started, not_in_database)
    )
