"""`wiring-pipeline backfill`: the partition's wiring repair as a Dagster run, from the shell.

The dry run and the execute are runs of `discovery_wiring_backfill` in process on the
configured instance (so they show in the UI, and the run id is the audit's run id); after
an execute or an undo, `wiring_health_job` re-measures the partition in process too, since
no daemon may be running to let `wiring_health_after_backfill` do it.
"""

import click
from dagster import ExecuteInProcessResult

from wiring_pipeline.cli.common import (
    BadInput,
    echo_json,
    engine,
    measure_health,
    read_partition,
)
from wiring_pipeline.cli.in_process import report_of, run_in_process
from wiring_pipeline.db import backfill_runs
from wiring_pipeline.defs.backfill.jobs import BACKFILL_RUN_TAG, HEALTH_INLINE_TAG, OP_NAME
from wiring_pipeline.domain.backfill import find_run


def refresh_health(partition_key: str, backfill_run_id: str) -> ExecuteInProcessResult:
    return run_in_process(
        "wiring_health_job", partition_key, tags={BACKFILL_RUN_TAG: backfill_run_id}
    )


@click.command("backfill")
@click.option("--partition", "partition_key", help="<client_slug>.<engagement_slug>")
@click.option("--execute", is_flag=True, help="Apply the repairs (default: dry run).")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=backfill_runs.DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Rows per batch; each batch is one short transaction.",
)
@click.option("--undo", "undo_run_id", metavar="RUN_ID", help="Revert one executed run.")
def backfill(
    partition_key: str | None, execute: bool, batch_size: int, undo_run_id: str | None
) -> None:
    """Repair a partition's legacy wiring: a dry run unless --execute; --undo reverts a run.

    Prints the counts per repair, the unrepairable cases and the run id as JSON, with the
    partition's wiring health after an execute or undo. Exits 1 when the run fails.
    """
    if undo_run_id is not None:
        if execute:
            raise BadInput("--undo and --execute exclude each other")
        _undo(undo_run_id, partition_key)
        return
    if partition_key is None:
        raise BadInput("--partition KEY is required (or --undo RUN_ID)")
    with read_partition(partition_key) as work:  # a bad or unknown key stops here, exit 2
        key = work.scope.partition_key
    result = run_in_process(
        "discovery_wiring_backfill",
        key,
        run_config={
            "ops": {OP_NAME: {"config": {"dry_run": not execute, "batch_size": batch_size}}}
        },
        tags={HEALTH_INLINE_TAG: "inline"},
    )
    report = report_of(result, OP_NAME)
    if not result.success or report is None:
        raise click.ClickException(f"backfill run {result.run_id} of {key} failed: see its logs")
    if execute:
        refresh = refresh_health(key, result.run_id)
        report["health_run_id"] = refresh.run_id
        report["health"] = measure_health(key).as_json()
    echo_json(report)


def _undo(run_id: str, partition_key: str | None) -> None:
    with engine().connect() as conn:
        run_partition = find_run(conn, run_id).partition_key
    if partition_key not in (None, run_partition):
        raise BadInput(
            f"backfill run {run_id!r} is of partition {run_partition!r}, not {partition_key!r}"
        )
    key, restored = backfill_runs.undo_backfill(engine(), run_id)
    refresh = refresh_health(key, run_id)
    echo_json(
        {
            "undone_run_id": run_id,
            "partition": key,
            "restored_rows": restored,
            "health_run_id": refresh.run_id,
            "health": measure_health(key).as_json(),
        }
    )
