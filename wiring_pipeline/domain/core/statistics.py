"""Planner statistics after a bulk write, so no statement plans for a partition's old size.

A partition that has just grown by a hundred thousand rows is, to statistics gathered
before, a tenant with no rows at all; the planner then joins it with nested loops that
take quadratic time. Two remedies, one for each side of the commit:

* **Inside the writing transaction**, the rest of it plans without nested loops
  (`enable_nestloop` off, local to the transaction). Set-based bulk statements lose nothing
  by that: they join whole partitions, which hash and merge joins do in linear time.
* **After it commits**, the table is analyzed, so the next unit of work (the next stage of
  the run, another tenant's) plans with the real size. ANALYZE holds SHARE UPDATE EXCLUSIVE
  on the table until its transaction ends; run inside a step of minutes, on a table every
  tenant shares, it would block autovacuum and `VALIDATE CONSTRAINT` (and every other
  tenant's ANALYZE) for the whole step. So the domain only notes the table on the
  connection (`conn.info`) and the owner of the transaction, `db/transactions.py`, runs
  `analyze_sql` in a short transaction of its own once the unit of work has committed
  (`take_pending`). A unit of work that rolls back leaves nothing to analyze.

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
    "asset_sources": (
        "client_account_id", "engagement_id", "asset_id", "discovery_flow_id",
        "raw_import_record_id", "identity_key", "current_phase", "match_serial_number",
        "match_bios_uuid", "match_cloud_instance_id", "match_fqdn", "match_hostname",
        "match_ip_address", "match_name",
    ),
}  # fmt: skip
#: The key in `Connection.info` (which belongs to the DBAPI connection, so it outlives one
#: checkout: the owner of a transaction empties it at both ends) of the tables to analyze.
_PENDING = "wiring_pipeline.statistics.pending"


def refresh_after_bulk_write(conn: Connection, table: str, rows_written: int) -> bool:
    """After a large write to `migration.<table>`, plan the rest of this transaction without
    nested loops and note the table to analyze once it commits; True when it was large."""
    if table not in _PLANNED_COLUMNS:
        raise ValueError(f"no statistics refresh for table {table!r}")
    if rows_written < ANALYZE_AFTER_ROWS:
        return False
    conn.execute(text("SELECT set_config('enable_nestloop', 'off', true)"))
    conn.info.setdefault(_PENDING, {})[table] = None  # a dict: insertion-ordered, no repeats
    return True


def take_pending(conn: Connection) -> tuple[str, ...]:
    """The tables noted since the last call, forgotten: for the owner of the transaction."""
    return tuple(conn.info.pop(_PENDING, {}))


def analyze_sql(table: str) -> str:
    """The ANALYZE of a table `refresh_after_bulk_write` accepts, over its planned columns."""
    return f"ANALYZE migration.{table} ({', '.join(_PLANNED_COLUMNS[table])})"
