"""One batch of a backfill: its bounds, its plan (a dry run), and its audited execution.

The caller (`db/backfill_runs.py`) runs each batch in its own short transaction.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import Connection, text

from wiring_pipeline.domain.backfill.repairs import (
    AUDITED_COLUMNS,
    REQUEUE_NOTE,
    BackfillError,
    Table,
    Tally,
)
from wiring_pipeline.domain.backfill.sql import dry_run_sql, execute_sql
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter


def next_batch(
    conn: Connection, scope: TenantScope, table: Table, after: uuid.UUID | None, size: int
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The first and last id of the next `size` rows of the partition after `after`."""
    if table not in AUDITED_COLUMNS:
        raise BackfillError(f"no backfill of table {table!r}")
    if size < 1:
        raise BackfillError(f"batch size must be at least 1, not {size}")
    after_clause = "" if after is None else "AND id > :after"
    row = conn.execute(
        text(
            f"""
            SELECT (array_agg(id ORDER BY id))[1] AS first_id,
                   (array_agg(id ORDER BY id DESC))[1] AS last_id
            FROM (SELECT id FROM migration.{table}
                  WHERE {tenant_filter()} {after_clause}
                  ORDER BY id LIMIT :size) AS batch
            """
        ),
        {**scope.as_params(), "after": after, "size": size},
    ).one()
    return None if row.first_id is None else (row.first_id, row.last_id)


def plan_batch(
    conn: Connection, scope: TenantScope, table: Table, first: uuid.UUID, last: uuid.UUID
) -> Tally:
    """What executing the batch would change, counted and sampled; reads only."""
    rows = conn.execute(
        text(dry_run_sql(table)),
        {**scope.as_params(), "first_id": first, "last_id": last, "requeue_note": REQUEUE_NOTE},
    ).all()
    return Tally.from_rows(rows)


def apply_batch(
    conn: Connection,
    scope: TenantScope,
    run_id: str,
    table: Table,
    first: uuid.UUID,
    last: uuid.UUID,
    so_far: Tally,
) -> Tally:
    """Repair the batch, audit every changed value, and record the run's new totals.

    A row that a concurrent writer changed after the plan read it is skipped (its guard
    fails) and is repaired by the next run. Returns this batch's tally.
    """
    rows = conn.execute(
        text(execute_sql(table)),
        {
            **scope.as_params(),
            "first_id": first,
            "last_id": last,
            "run_id": run_id,
            "requeue_note": REQUEUE_NOTE,
        },
    ).all()
    batch = Tally.from_rows(rows)
    conn.execute(
        text(
            f"""
            UPDATE migration.backfill_runs SET counts = CAST(:counts AS jsonb)
            WHERE {tenant_filter()} AND run_id = :run_id
            """
        ),
        {
            **scope.as_params(),
            "run_id": run_id,
            "counts": json.dumps(so_far.add(batch).counts_json()),
        },
    )
    return batch
