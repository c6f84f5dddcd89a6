"""`wiring_health_after_backfill`: the health re-measure that follows an executing backfill.

After an executing run succeeds, this run-status sensor (running by default) requests
`wiring_health_job` for the same partition, keyed by the backfill's run id. That is the real
`wiring_health` asset with its real checks, in a run of its own linked by tags to the
backfill: the asset's page shows the snapshot and the check results after the repair, which
a materialisation event faked from inside the backfill op could not (its checks would not
run). The asset cannot simply be part of the backfill job because it does not depend on the
backfill. The command line, which may run without a daemon, runs both jobs in process
itself and tags its backfill run so the sensor leaves it alone.
"""

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunStatusSensorContext,
    SkipReason,
    run_status_sensor,
)

from wiring_pipeline.defs.backfill.jobs import (
    BACKFILL_RUN_TAG,
    HEALTH_INLINE_TAG,
    OP_NAME,
    discovery_wiring_backfill,
)
from wiring_pipeline.defs.health.jobs import wiring_health_job
from wiring_pipeline.defs.partitions import PARTITION_TAG


def executed(run_config: dict) -> bool:
    """Whether a backfill run's config made it change data (dry_run defaults to true)."""
    config = run_config.get("ops", {}).get(OP_NAME, {}).get("config", {})
    return config.get("dry_run", True) is False


@run_status_sensor(
    name="wiring_health_after_backfill",
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[discovery_wiring_backfill],
    request_job=wiring_health_job,
    default_status=DefaultSensorStatus.RUNNING,
    description="Re-measure wiring_health for the partition of each successful executing backfill.",
)
def wiring_health_after_backfill(context: RunStatusSensorContext):
    run = context.dagster_run
    if not executed(run.run_config):
        return SkipReason(f"backfill run {run.run_id} was a dry run")
    if run.tags.get(HEALTH_INLINE_TAG) == "inline":
        return SkipReason(f"backfill run {run.run_id} re-measured health itself")
    return RunRequest(
        run_key=run.run_id,
        partition_key=run.tags[PARTITION_TAG],
        tags={BACKFILL_RUN_TAG: run.run_id},
    )
