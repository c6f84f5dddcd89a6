"""What this backend has written to a table and not yet reported, for tests of how rows are
written (rolled back rather than deleted, updated HOT rather than indexed again)."""

from __future__ import annotations

from sqlalchemy import Connection, text


def pending_writes(conn: Connection, table: str):
    """`n_tup_ins`, `n_tup_upd`, `n_tup_hot_upd` and `n_tup_del` of `migration.<table>` in
    `pg_stat_xact_user_tables`. They may include earlier transactions' counts not yet
    flushed: a test reads the difference across what it measures, in one transaction."""
    return conn.execute(
        text(
            "SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_xact_user_tables"
            " WHERE schemaname = 'migration' AND relname = :table"
        ),
        {"table": table},
    ).one()
