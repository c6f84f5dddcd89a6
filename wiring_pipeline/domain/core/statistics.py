"""Planner statistics after a bulk write, so the next statement plans for the real size.

A partition that has just grown by a hundred thousand rows is, to statistics gathered
before, a tenant with no rows at all; the planner then joins it with nested loops that
take quadratic time. ANALYZE inside the writing transaction sees the transaction's own
rows, and its statistics become visible to others only if the transaction commits.

ANALYZE holds its table lock until commit, and a second ANALYZE of the table waits for
it: two partitions writing in bulk at once would then queue behind each other until one
hit its lock timeout and failed. So only one transaction at a time analyzes a table
(a transaction-level advisory lock, tried, never waited for); the others go on without
fresh statistics and, for the rest of their transaction, without the nested-loop joins
that stale statistics make quadratic. Set-based bulk statements lose nothing by that.

Only the columns the pipeline's plans filter and join on are analyzed: the sample of rows
costs the same, but the wide text and JSON columns of an asset cost most of the time and
no plan looks at their statistics.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

#: Rows written in one statement from which the table's statistics are refreshed.
ANALYZE_AFTER_ROWS = 10_000
#: Per table, the columns whose statistics plans use (tenant, links, state).
_PLANNED_COLUMNS = {
    "raw_import_records": (
        "client_account_id", "engagement_id", "id", "data_import_id", "row_number",
        "is_processed", "asset_id", "superseded_by", "cleansed_data",
    ),
    "cleansed_record_archive": (
        "client_account_id", "engagement_id", "raw_import_record_id", "identity_key",
    ),
    "assets": (
        "client_account_id", "engagement_id", "id", "discovery_flow_id", "flow_id",
        "raw_import_records_id", "identity_key", "current_phase",
    ),
}  # fmt: skip


def refresh_after_bulk_write(conn: Connection, table: str, rows_written: int) -> bool:
    """ANALYZE `migration.<table>` after a large write; True when it did.

    When another transaction is analyzing the table right now, plan without nested loops
    for the rest of this transaction instead of waiting for it.
    """
    if table not in _PLANNED_COLUMNS:
        raise ValueError(f"no statistics refresh for table {table!r}")
    if rows_written < ANALYZE_AFTER_ROWS:
        return False
    ours = conn.execute(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"wiring_pipeline:analyze:{table}"},
    ).scalar_one()
    if not ours:
        conn.execute(text("SELECT set_config('enable_nestloop', 'off', true)"))
        return False
    conn.execute(text(f"ANALYZE migration.{table} ({', '.join(_PLANNED_COLUMNS[table])})"))
    return True
