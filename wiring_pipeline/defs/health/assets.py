"""The `wiring_health` asset: phase 0 of the source plan as Dagster.

It measures the metrics of `domain/contract/` and stores a snapshot (so every later run
is judged against the baseline); its zero-orphan checks (`checks.py`) measure again, so a
check evaluated on its own from the UI is as true as one run right after the asset. It
hands nothing through an IO manager: it returns metadata only, and the database is the state.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)

from wiring_pipeline.defs.metadata import catalog_metadata, row_count, rows_table
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.contract.metrics import METRICS, Metric
from wiring_pipeline.domain.core.schema import wiring_health_snapshots
from wiring_pipeline.domain.core.tenancy import count_rows
from wiring_pipeline.domain.health.measure import measure_wiring_health
from wiring_pipeline.domain.health.snapshots import RecordedHealth, record_snapshot
from wiring_pipeline.resources import WiringDatabase

WIRING_HEALTH_KEY = AssetKey("wiring_health")


@asset(
    key=WIRING_HEALTH_KEY,
    partitions_def=tenant_engagements,
    group_name="discovery",
    deps=[AssetKey("asset_inventory")],
    kinds={"postgres"},
    metadata=catalog_metadata(wiring_health_snapshots),
)
def wiring_health(context: AssetExecutionContext, wiring_db: WiringDatabase) -> MaterializeResult:
    """Wiring metrics of one tenant engagement, stored as a snapshot; the first is the baseline."""
    with wiring_db.unit_of_work(context.partition_key) as work:
        health = measure_wiring_health(work.conn, work.scope)
        recorded = record_snapshot(work.conn, health, context.run.run_id)
        snapshots = count_rows(work.conn, work.scope, wiring_health_snapshots)
    context.log.info(
        "%s is %s (snapshot %s)",
        work.scope.partition_key,
        health.health_status,
        recorded.snapshot.id,
    )
    return MaterializeResult(metadata={**snapshot_metadata(recorded), **row_count(snapshots)})


def snapshot_metadata(recorded: RecordedHealth) -> dict:
    health = recorded.health
    metadata: dict = {name: MetadataValue.int(count) for name, count in health.metrics.items()}
    metadata.update(
        health_status=health.health_status,
        snapshot_id=MetadataValue.int(recorded.snapshot.id),
        is_baseline=MetadataValue.bool(recorded.baseline is None),
        metrics_table=_metrics_table(recorded),
        delta_vs_previous=MetadataValue.json(recorded.delta_vs_previous),
        delta_vs_baseline=MetadataValue.json(recorded.delta_vs_baseline),
    )
    return metadata


def _metrics_table(recorded: RecordedHealth) -> MetadataValue:
    previous, baseline = recorded.delta_vs_previous, recorded.delta_vs_baseline
    rows = [
        {
            "metric": m.name,
            "check": check_label(m),
            "count": recorded.health.metrics[m.name],
            "delta_previous": previous[m.name],
            "delta_baseline": baseline[m.name],
        }
        for m in METRICS
    ]
    return rows_table(rows, ["metric", "check", "count", "delta_previous", "delta_baseline"])


def check_label(metric: Metric) -> str:
    return f"{metric.severity}{', blocking' if metric.blocking else ''}"
