"""The record of executed backfill runs, and their undo.

An executed run is a row of `backfill_runs` (its totals so far, finished or undone) and
one `backfill_audit` row per changed value; a dry run records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, text

from wiring_pipeline.domain.backfill.repairs import BATCH_TABLES, BackfillError, Tally
from wiring_pipeline.domain.backfill.sql import undo_sql
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter

_RUN = f"{tenant_filter()} AND run_id = :run_id"


@dataclass(frozen=True)
class BackfillRun:
    run_id: str
    partition_key: str
    counts: dict
    finished: bool
    undone: bool


def start_run(conn: Connection, scope: TenantScope, run_id: str) -> Tally:
    """Record an executing run; a run id seen before (a retried step) resumes its totals."""
    conn.execute(
        text(
            """
            INSERT INTO migration.backfill_runs
                (run_id, client_account_id, engagement_id, partition_key)
            VALUES (:run_id, :client_account_id, :engagement_id, :partition_key)
            ON CONFLICT (run_id) DO NOTHING
            """
        ),
        {**scope.as_params(), "run_id": run_id, "partition_key": scope.partition_key},
    )
    counts = conn.execute(
        text(
            f"""
            SELECT counts FROM migration.backfill_runs
            WHERE {_RUN}
            """
        ),
        {**scope.as_params(), "run_id": run_id},
    ).scalar_one_or_none()
    if counts is None:
        raise BackfillError(f"backfill run {run_id!r} belongs to another partition")
    return Tally.from_counts_json(counts)


def finish_run(conn: Connection, scope: TenantScope, run_id: str) -> None:
    _stamp_run(conn, scope, run_id, "finished_at")


def _stamp_run(
    conn: Connection, scope: TenantScope, run_id: str, column: Literal["finished_at", "undone_at"]
) -> None:
    """Set one of the run's two timestamps; `column` is a literal of this module, never input."""
    conn.execute(
        text(
            f"""
            UPDATE migration.backfill_runs SET {column} = now()
            WHERE {_RUN}
            """
        ),
        {**scope.as_params(), "run_id": run_id},
    )


def find_run(conn: Connection, run_id: str) -> BackfillRun:
    """An executed run by its id, whichever partition it belongs to (for `--undo RUN_ID`)."""
    row = conn.execute(
        text(
            """
            SELECT run_id, partition_key, counts, finished_at IS NOT NULL AS finished,
                   undone_at IS NOT NULL AS undone
            FROM migration.backfill_runs WHERE run_id = :run_id
            """
        ),
        {"run_id": run_id},
    ).one_or_none()
    if row is None:
        raise BackfillError(
            f"no executed backfill run {run_id!r} (dry runs change nothing and are not recorded)"
        )
    return BackfillRun(row.run_id, row.partition_key, row.counts, row.finished, row.undone)


def undo_run(conn: Connection, scope: TenantScope, run_id: str) -> dict[str, int]:
    """Put back every value one executed run changed, or nothing at all.

    Refuses (BackfillError, and the caller's transaction rolls back) when a row has changed
    since the run: restoring it would overwrite a newer write. Undo later runs first.
    Returns the restored rows per table.
    """
    run = conn.execute(
        text(
            f"""
            SELECT undone_at FROM migration.backfill_runs
            WHERE {_RUN}
            FOR UPDATE
            """
        ),
        {**scope.as_params(), "run_id": run_id},
    ).one_or_none()
    if run is None:
        raise BackfillError(
            f"partition {scope.partition_key!r} has no executed backfill run {run_id!r}"
        )
    if run.undone_at is not None:
        raise BackfillError(f"backfill run {run_id!r} was undone already at {run.undone_at}")
    restored: dict[str, int] = {}
    for table in BATCH_TABLES:
        row = conn.execute(text(undo_sql(table)), {**scope.as_params(), "run_id": run_id}).one()
        if row.restored != row.rows:
            raise BackfillError(
                f"cannot undo backfill run {run_id!r}: {row.rows - row.restored} {table} rows "
                f"changed since the run (e.g. {', '.join(row.conflicts)}); undo later runs "
                "first, or repair those rows by hand"
            )
        restored[table] = int(row.restored)
    _stamp_run(conn, scope, run_id, "undone_at")
    return restored
