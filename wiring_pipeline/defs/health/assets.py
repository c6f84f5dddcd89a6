"""The `wiring_health` asset and its zero-orphan checks: phase 0 of the source plan as Dagster.

The asset measures and stores a snapshot (so every later run is judged against the
baseline); the checks measure again with their own SQL, so a check evaluated on its own
from the UI is as true as one run right after the asset. Neither hands data through an IO
manager: the asset returns metadata only, and the database is the state.
"""

import warnings
from collections.abc import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    PreviewWarning,
    asset,
    multi_asset_check,
)

from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.health import METRICS, Metric, WiringHealth, measure_wiring_health
from wiring_pipeline.domain.health_history import (
    RecordedHealth,
    previous_metrics,
    record_snapshot,
)
from wiring_pipeline.resources import WiringDatabase

WIRING_HEALTH_KEY = AssetKey("wiring_health")


@asset(
    key=WIRING_HEALTH_KEY,
    partitions_def=tenant_engagements,
    group_name="discovery",
    deps=[AssetKey("asset_inventory")],
    kinds={"postgres"},
)
def wiring_health(context: AssetExecutionContext, wiring_db: WiringDatabase) -> MaterializeResult:
    """Wiring metrics of one tenant engagement, stored as a snapshot; the first is the baseline."""
    with wiring_db.unit_of_work(context.partition_key) as work:
        health = measure_wiring_health(work.conn, work.scope)
        recorded = record_snapshot(work.conn, health, context.run.run_id)
    context.log.info(
        "%s is %s (snapshot %s)",
        work.scope.partition_key,
        health.health_status,
        recorded.snapshot.id,
    )
    return MaterializeResult(metadata=snapshot_metadata(recorded))


def snapshot_metadata(recorded: RecordedHealth) -> dict:
    health = recorded.health
    metadata: dict = {name: MetadataValue.int(count) for name, count in health.metrics.items()}
    metadata.update(
        health_status=health.health_status,
        snapshot_id=MetadataValue.int(recorded.snapshot.id),
        is_baseline=MetadataValue.bool(recorded.baseline is None),
        metrics_table=MetadataValue.md(_metrics_table(recorded)),
        delta_vs_previous=MetadataValue.json(recorded.delta_vs_previous),
        delta_vs_baseline=MetadataValue.json(recorded.delta_vs_baseline),
    )
    return metadata


def _metrics_table(recorded: RecordedHealth) -> str:
    previous, baseline = recorded.delta_vs_previous, recorded.delta_vs_baseline
    lines = [
        "| metric | check | count | Δ previous | Δ baseline |",
        "|---|---|---:|---:|---:|",
    ]
    for m in METRICS:
        lines.append(
            f"| `{m.name}` | {_check_label(m)} | {recorded.health.metrics[m.name]} "
            f"| {previous[m.name]:+d} | {baseline[m.name]:+d} |"
        )
    return "\n".join(lines)


def _check_label(metric: Metric) -> str:
    return f"{metric.severity}{', blocking' if metric.blocking else ''}"


def _severity(metric: Metric) -> AssetCheckSeverity:
    return AssetCheckSeverity.ERROR if metric.severity == "ERROR" else AssetCheckSeverity.WARN


# Partitioned check specs are a Dagster preview, used on purpose (one verdict per tenant
# partition); without this its warning would print on every command that loads the module.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", PreviewWarning)
    WIRING_CHECK_SPECS = [
        AssetCheckSpec(
            name=m.name,
            asset=WIRING_HEALTH_KEY,
            description=(
                f"No more {m.description} than at the last measurement ({_check_label(m)})."
                if m.fails_on == "growth"
                else f"Zero {m.description} ({_check_label(m)})."
            ),
            blocking=m.blocking,
            partitions_def=tenant_engagements,
            metadata={"severity": m.severity},
        )
        for m in METRICS
    ]


@multi_asset_check(specs=WIRING_CHECK_SPECS, can_subset=True, name="wiring_zero_orphan_checks")
def wiring_zero_orphan_checks(
    context: AssetCheckExecutionContext, wiring_db: WiringDatabase
) -> Iterator[AssetCheckResult]:
    """One check per invariant, all measured in one transaction of the partition.

    A blocking ERROR check that fails makes Dagster fail this step (and so the run) with
    DagsterAssetCheckFailedError, and skips whatever depends on `wiring_health` downstream.
    """
    with wiring_db.unit_of_work(context.partition_key) as work:
        health = measure_wiring_health(work.conn, work.scope, detail=True)
        previous = previous_metrics(work.conn, work.scope, context.run.run_id)
    selected = {key.name for key in context.selected_asset_check_keys}
    for metric in METRICS:
        if metric.name in selected:
            yield check_result(metric, health, previous)


def check_result(
    metric: Metric, health: WiringHealth, previous: dict[str, int] | None = None
) -> AssetCheckResult:
    """The check's verdict with the count and the violating rows a user needs to act."""
    count = health.metrics[metric.name]
    samples = (health.samples or {}).get(metric.name, [])
    metadata: dict = {
        "count": MetadataValue.int(count),
        "partition": health.scope.partition_key,
    }
    if metric.fails_on == "growth":
        metadata["previous_count"] = MetadataValue.int(int((previous or {}).get(metric.name, 0)))
    if count:
        metadata["samples"] = MetadataValue.json(samples)
        metadata["sample_rows"] = MetadataValue.md(
            "| id | name |\n|---|---|\n"
            + "\n".join(f"| `{s['id']}` | {s['name']} |" for s in samples)
        )
    return AssetCheckResult(
        check_name=metric.name,
        asset_key=WIRING_HEALTH_KEY,
        passed=not metric.fails(count, previous),
        severity=_severity(metric),
        description=(f"{count} {metric.description}" if count else f"no {metric.description}"),
        metadata=metadata,
    )
