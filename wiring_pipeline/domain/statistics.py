"""Planner statistics after a bulk write, so the next statement plans for the real size.

A partition that has just grown by a hundred thousand rows is, to statistics gathered
before, a tenant with no rows at all; the planner then joins it with nested loops that
take quadratic time. ANALYZE inside the writing transaction sees the transaction's own
rows, and its statistics become visible to others only if the transaction commits.
It holds a lock that queues other ANALYZEs of the table until commit, so it runs only
after writes big enough for a wrong plan to matter.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

#: Rows written in one statement from which the table's statistics are refreshed.
ANALYZE_AFTER_ROWS = 10_000
_TABLES = {"raw_import_records", "cleansed_record_archive", "assets"}


def refresh_after_bulk_write(conn: Connection, table: str, rows_written: int) -> bool:
    """ANALYZE `migration.<table>` when `rows_written` is large; True when it did."""
    if table not in _TABLES:
        raise ValueError(f"no statistics refresh for table {table!r}")
    if rows_written < ANALYZE_AFTER_ROWS:
        return False
    conn.execute(text(f"ANALYZE migration.{table}"))
    return True
