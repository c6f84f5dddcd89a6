"""`discovery_wiring_backfill`: phase 4's repair of one partition.

Each partition is its own run (the job is partitioned by `tenant_engagements`), so a UI
backfill or `dagster job backfill -j discovery_wiring_backfill --all` launches one run per
partition and a failing partition stops none of the others; `dagster.yaml` lets one run per
partition go at a time. After an executing run, `sensors.py` re-measures health.
"""

from dagster import (
    Config,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    job,
    op,
)
from pydantic import Field

from wiring_pipeline.db import backfill_runs, retry
from wiring_pipeline.defs.metadata import rows_table
from wiring_pipeline.defs.partitions import tenant_engagements
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
        default=backfill_runs.DEFAULT_BATCH_SIZE,
        gt=0,
        description="Rows per batch; each batch is one short transaction.",
    )
    lock_timeout_ms: int = Field(
        default=retry.DEFAULT_LOCK_TIMEOUT_MS,
        gt=0,
        description="How long a batch waits for a row lock before it rolls back and retries.",
    )
    max_attempts: int = Field(default=retry.DEFAULT_MAX_ATTEMPTS, gt=0)


@op(name=OP_NAME, out=Out(Nothing))
def backfill_wiring(context: OpExecutionContext, config: BackfillConfig, wiring_db: WiringDatabase):
    """Dry run or execute the repairs of the run's partition; the run id is the audit's."""
    policy = retry.RetryPolicy.logged(
        context.log, lock_timeout_ms=config.lock_timeout_ms, max_attempts=config.max_attempts
    )
    report = backfill_runs.run_backfill(
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


def report_metadata(report: backfill_runs.BackfillReport) -> dict:
    metadata: dict = {
        "dry_run": MetadataValue.bool(report.dry_run),
        "backfill_run_id": report.run_id,
        "lock_retries": MetadataValue.int(report.retries),
        "batches": MetadataValue.int(report.tally.batches),
        "report": MetadataValue.json(report.as_json()),
        "summary": _summary_table(report),
    }
    for name, count in {**report.tally.repairs, **report.tally.unrepairable}.items():
        metadata[name] = MetadataValue.int(count)
    return metadata


def _summary_table(report: backfill_runs.BackfillReport) -> MetadataValue:
    rows = [
        {"repair": name, "unrepairable": False, "rows": report.tally.repairs[name], "what": text}
        for name, text in backfill.REPAIRS.items()
    ] + [
        {
            "repair": name,
            "unrepairable": True,
            "rows": report.tally.unrepairable[name],
            "what": text,
        }
        for name, text in backfill.UNREPAIRABLE.items()
    ]
    return rows_table(rows, ["repair", "unrepairable", "rows", "what"])


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
