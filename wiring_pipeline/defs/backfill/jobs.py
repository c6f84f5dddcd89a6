"""`discovery_wiring_backfill`: phase 4's repair of one partition, and the health re-measure
that follows it.

Each partition is its own run (the job is partitioned by `tenant_engagements`), so a UI
backfill or `dagster job backfill -j discovery_wiring_backfill --all` launches one run per
partition and a failing partition stops none of the others; `dagster.yaml` lets one run per
partition go at a time.

After an executing run succeeds, `wiring_health_after_backfill` (a run-status sensor,
running by default) requests `wiring_health_job` for the same partition, keyed by the
backfill's run id. That is the real `wiring_health` asset with its real checks, in a run of
its own linked by tags to the backfill: the asset's page shows the snapshot and the check
results after the repair, which a materialisation event faked from inside the backfill op
could not (its checks would not run). The asset cannot simply be part of this job because it
does not depend on the backfill. The command line, which may run without a daemon, runs both
jobs in process itself and tags its backfill run so the sensor leaves it alone.
"""

from dagster import (
    Config,
    DagsterRunStatus,
    DefaultSensorStatus,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    RunRequest,
    RunStatusSensorContext,
    SkipReason,
    job,
    op,
    run_status_sensor,
)
from pydantic import Field

from wiring_pipeline.defs.backfill import runner as backfill_runner
from wiring_pipeline.defs.health.jobs import wiring_health_job
from wiring_pipeline.defs.partitions import PARTITION_TAG, tenant_engagements
from wiring_pipeline.domain import backfill
from wiring_pipeline.resources import WiringDatabase

OP_NAME = "backfill_wiring"
#: Set on a backfill run whose caller re-measures health itself (the command line).
HEALTH_INLINE_TAG = "wiring/health_refresh"
BACKFILL_RUN_TAG = "wiring/backfill_run_id"


class BackfillConfig(Config):
    dry_run: bool = Field(
        default=True, description="Count and sample what would change; change nothing."
    )
    batch_size: int = Field(
        default=backfill_runner.DEFAULT_BATCH_SIZE,
        gt=0,
        description="Rows per batch; each batch is one short transaction.",
    )
    lock_timeout_ms: int = Field(
        default=backfill_runner.DEFAULT_LOCK_TIMEOUT_MS,
        gt=0,
        description="How long a batch waits for a row lock before it rolls back and retries.",
    )
    max_attempts: int = Field(default=backfill_runner.DEFAULT_MAX_ATTEMPTS, gt=0)


@op(name=OP_NAME, out=Out(Nothing))
def backfill_wiring(context: OpExecutionContext, config: BackfillConfig, wiring_db: WiringDatabase):
    """Dry run or execute the repairs of the run's partition; the run id is the audit's."""
    policy = backfill_runner.RetryPolicy.logged(
        context.log, lock_timeout_ms=config.lock_timeout_ms, max_attempts=config.max_attempts
    )
    report = backfill_runner.run_backfill(
        wiring_db.engine(),
        context.partition_key,
        context.run_id,
        dry_run=config.dry_run,
        batch_size=config.batch_size,
        policy=policy,
        on_batch=lambda batch: context.log.info(
            f"{batch.table} {batch.first_id}..{batch.last_id}: "
            f"{batch.tally.changed_rows} row(s) {'to change' if config.dry_run else 'changed'}"
        ),
    )
    verb = "would repair" if config.dry_run else "repaired"
    context.log.info(
        f"{context.partition_key}: {verb} {report.tally.repairs}; "
        f"unrepairable {report.tally.unrepairable}"
    )
    yield Output(None, metadata=report_metadata(report))


def report_metadata(report: backfill_runner.BackfillReport) -> dict:
    metadata: dict = {
        "dry_run": MetadataValue.bool(report.dry_run),
        "backfill_run_id": report.run_id,
        "lock_retries": MetadataValue.int(report.retries),
        "batches": MetadataValue.int(report.tally.batches),
        "report": MetadataValue.json(report.as_json()),
        "summary": MetadataValue.md(_summary_table(report)),
    }
    for name, count in {**report.tally.repairs, **report.tally.unrepairable}.items():
        metadata[name] = MetadataValue.int(count)
    return metadata


def _summary_table(report: backfill_runner.BackfillReport) -> str:
    lines = ["| repair | rows | what |", "|---|---:|---|"]
    lines += [
        f"| `{name}` | {report.tally.repairs[name]} | {text} |"
        for name, text in backfill.REPAIRS.items()
    ]
    lines += [
        f"| `{name}` (unrepairable) | {report.tally.unrepairable[name]} | {text} |"
        for name, text in backfill.UNREPAIRABLE.items()
    ]
    return "\n".join(lines)


@job(
    name="discovery_wiring_backfill",
    partitions_def=tenant_engagements,
    description=(
        "Repair a partition's legacy wiring (dry run unless config says dry_run: false); "
        "audited and undoable; wiring_health is re-measured after an executing run."
    ),
)
def discovery_wiring_backfill():
    backfill_wiring()


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
