"""The zero-orphan checks of `wiring_health`: one Dagster asset check per metric of the
wiring contract (`domain/contract/`), with its severity and blocking flag.

All are measured in one transaction of the partition, the counts in one round trip.
"""

import warnings
from collections.abc import Iterator

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    PreviewWarning,
    multi_asset_check,
)

from wiring_pipeline.defs.health.assets import WIRING_HEALTH_KEY, check_label
from wiring_pipeline.defs.metadata import rows_table
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.contract.metrics import METRICS, Metric
from wiring_pipeline.domain.health.measure import WiringHealth, measure_wiring_health
from wiring_pipeline.domain.health.snapshots import previous_metrics
from wiring_pipeline.resources import WiringDatabase


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
                f"No more {m.description} than at the last measurement ({check_label(m)})."
                if m.fails_on == "growth"
                else f"Zero {m.description} ({check_label(m)})."
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
    return AssetCheckResult(**_verdict(metric, health, previous))


def check_evaluation(
    metric: Metric, health: WiringHealth, previous: dict[str, int] | None
) -> AssetCheckEvaluation:
    """The same verdict for the partition's check, reported from a run of no partition.

    Not blocking: a partition's failure must not fail the fleet-wide run reporting it.
    """
    return AssetCheckEvaluation(
        **_verdict(metric, health, previous), partition=health.scope.partition_key
    )


def _verdict(metric: Metric, health: WiringHealth, previous: dict[str, int] | None) -> dict:
    count = health.metrics[metric.name]
    samples = (health.samples or {}).get(metric.name, [])
    metadata: dict = {
        "count": MetadataValue.int(count),
        "partition": health.scope.partition_key,
    }
    if metric.fails_on == "growth":
        metadata["previous_count"] = MetadataValue.int(metric.previous_count(previous))
    if count:
        metadata["samples"] = MetadataValue.json(samples)
        metadata["sample_rows"] = rows_table(samples, ["id", "name", "created_at"])
    return {
        "check_name": metric.name,
        "asset_key": WIRING_HEALTH_KEY,
        "passed": not metric.fails(count, previous),
        "severity": _severity(metric),
        "description": f"{count} {metric.description}" if count else f"no {metric.description}",
        "metadata": metadata,
    }
