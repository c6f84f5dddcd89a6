"""`nightly_wiring_health`: re-measure every partition's wiring once a night, in one
fleet-wide run (DESIGN 4b)."""

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from wiring_pipeline.defs.health.jobs import wiring_health_fleet_job
from wiring_pipeline.defs.partitions import tenant_engagements


@schedule(
    name="nightly_wiring_health",
    job=wiring_health_fleet_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)
def nightly_wiring_health(context: ScheduleEvaluationContext):
    """One fleet-wide run a night, however many partitions; the run key makes a retried tick a
    no-op."""
    if not context.instance.get_dynamic_partitions(tenant_engagements.name):
        return SkipReason("no tenant engagement partitions yet")
    tick = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
    return RunRequest(run_key=f"wiring_health_fleet:{tick}")
