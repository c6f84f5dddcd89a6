"""Statistics refresh after bulk writes: only when big, only for the pipeline's tables."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from wiring_pipeline.domain.core.statistics import ANALYZE_AFTER_ROWS, refresh_after_bulk_write


def test_refresh_runs_analyze_inside_the_transaction_only_after_big_writes(engine):
    with engine.begin() as conn:
        held = text(
            "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"
            " AND relation = 'migration.assets'::regclass AND mode = 'ShareUpdateExclusiveLock'"
        )
        assert refresh_after_bulk_write(conn, "assets", ANALYZE_AFTER_ROWS - 1) is False
        assert conn.execute(held).scalar_one() == 0
        assert refresh_after_bulk_write(conn, "assets", ANALYZE_AFTER_ROWS) is True
        assert conn.execute(held).scalar_one() == 1  # ANALYZE's lock, held to commit


def test_refresh_refuses_an_unknown_table(engine):
    with engine.begin() as conn, pytest.raises(ValueError, match="no statistics refresh"):
        refresh_after_bulk_write(conn, "client_accounts; DROP TABLE x", ANALYZE_AFTER_ROWS)


def test_a_second_bulk_writer_does_not_wait_for_the_first_ones_analyze(engine):
    held = text(
        "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"
        " AND relation = 'migration.assets'::regclass AND mode = 'ShareUpdateExclusiveLock'"
    )
    with engine.begin() as first:
        assert refresh_after_bulk_write(first, "assets", ANALYZE_AFTER_ROWS) is True
        with engine.begin() as second:
            # A plain ANALYZE here would queue behind `first` until its lock timeout.
            second.execute(text("SET LOCAL lock_timeout = '200ms'"))
            assert refresh_after_bulk_write(second, "assets", ANALYZE_AFTER_ROWS) is False
            assert second.execute(held).scalar_one() == 0
            assert second.execute(text("SHOW enable_nestloop")).scalar_one() == "off"
    # Once the first commits, the next writer analyzes again, with nested loops allowed.
    with engine.begin() as third:
        assert refresh_after_bulk_write(third, "assets", ANALYZE_AFTER_ROWS) is True
        assert third.execute(text("SHOW enable_nestloop")).scalar_one() == "on"
