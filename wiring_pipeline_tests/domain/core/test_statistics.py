"""Statistics refresh after bulk writes: only when big, only for the pipeline's tables, and
never a table lock inside the writing transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from wiring_pipeline.domain.core.statistics import (
    ANALYZE_AFTER_ROWS,
    analyze_sql,
    refresh_after_bulk_write,
    take_pending,
)

HELD = text(
    "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"
    " AND relation = 'migration.assets'::regclass AND mode = 'ShareUpdateExclusiveLock'"
)


def test_a_big_write_plans_without_nested_loops_and_notes_the_table_taking_no_lock(engine):
    with engine.connect() as conn:
        take_pending(conn)  # whatever an earlier user of the pooled connection left
        with conn.begin():
            assert refresh_after_bulk_write(conn, "assets", ANALYZE_AFTER_ROWS - 1) is False
            assert conn.execute(text("SHOW enable_nestloop")).scalar_one() == "on"
            assert refresh_after_bulk_write(conn, "assets", ANALYZE_AFTER_ROWS) is True
            assert refresh_after_bulk_write(conn, "raw_import_records", ANALYZE_AFTER_ROWS)
            assert refresh_after_bulk_write(conn, "assets", ANALYZE_AFTER_ROWS) is True
            assert conn.execute(text("SHOW enable_nestloop")).scalar_one() == "off"
            assert conn.execute(HELD).scalar_one() == 0  # no ANALYZE inside the step
        # Local to the transaction; the tables are noted once each, in order, for its owner.
        assert conn.execute(text("SHOW enable_nestloop")).scalar_one() == "on"
        assert take_pending(conn) == ("assets", "raw_import_records")
        assert take_pending(conn) == ()


def test_refresh_refuses_an_unknown_table(engine):
    with engine.begin() as conn, pytest.raises(ValueError, match="no statistics refresh"):
        refresh_after_bulk_write(conn, "client_accounts; DROP TABLE x", ANALYZE_AFTER_ROWS)
    with pytest.raises(KeyError):
        analyze_sql("client_accounts; DROP TABLE x")


def test_the_analyze_names_only_the_planned_columns():
    assert analyze_sql("cleansed_record_archive") == (
        "ANALYZE migration.cleansed_record_archive"
        " (client_account_id, engagement_id, raw_import_record_id, identity_key)"
    )
