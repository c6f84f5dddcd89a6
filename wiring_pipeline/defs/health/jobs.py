"""Re-measuring wiring health: the job that materialises `wiring_health` (with its checks) and
the nightly schedule that runs it for every partition."""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from wiring_pipeline.defs.health.assets import WIRING_HEALTH_KEY
from wiring_pipeline.defs.partitions import tenant_engagements

wiring_health_job = define_asset_job(
    "wiring_health_job",
    selection=AssetSelection.assets(WIRING_HEALTH_KEY),
    description="Measure a partition's wiring, store a snapshot, evaluate the zero-orphan checks.",
)


@schedule(
    name="nightly_wiring_health",
    job=wiring_health_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)
def nightly_wiring_health(context: ScheduleEvaluationContext):
    """One run per partition; the run key (partition + tick) makes a retried tick a no-op."""
    keys = context.instance.get_dynamic_partitions(tenant_engagements.name)
    if not keys:
        return SkipReason("no tenant engagement partitions yet")
    tick = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
    return [
        RunRequest(run_key=f"wiring_health:{key}:{tick}", partition_key=key) for key in sorted(keys)
    ]
