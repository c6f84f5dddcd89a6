"""Statistics after a bulk write are refreshed once the unit of work commits, in a short
transaction of their own: the step holds no lock that autovacuum or `VALIDATE CONSTRAINT`
(of any tenant) would wait for."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from wiring_pipeline.db.transactions import partition_transaction, refresh_statistics
from wiring_pipeline.domain.core.statistics import (
    ANALYZE_AFTER_ROWS,
    refresh_after_bulk_write,
    take_pending,
)
from wiring_pipeline_tests.support.factories import make_tenant

KEY = "acme.dc-exit"


class Boom(Exception):
    pass


def bulk_write(conn, scope) -> None:
    """What a stage does: a set-based write of many rows, then the statistics rule."""
    written = conn.execute(
        text(
            "INSERT INTO migration.assets (client_account_id, engagement_id, name)"
            " SELECT :client_account_id, :engagement_id, 'srv-' || n"
            " FROM generate_series(1, :rows) AS n"
        ),
        {**scope.as_params(), "rows": ANALYZE_AFTER_ROWS},
    ).rowcount
    assert refresh_after_bulk_write(conn, "assets", written) is True


def tenant_in_statistics(engine, scope) -> bool:
    """Whether the planner's statistics of `assets` know the tenant (committed ones only)."""
    with engine.connect() as conn:
        common = conn.execute(
            text(
                "SELECT most_common_vals::text FROM pg_stats WHERE schemaname = 'migration'"
                " AND tablename = 'assets' AND attname = 'client_account_id'"
            )
        ).scalar()
    return common is not None and str(scope.client_account_id) in common


def manual_analyzes(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT analyze_count FROM pg_stat_user_tables"
                " WHERE schemaname = 'migration' AND relname = 'assets'"
            )
        ).scalar_one()


def test_an_open_bulk_write_lets_others_take_the_tables_maintenance_lock(engine):
    scope = make_tenant(engine, KEY)
    with partition_transaction(engine, KEY) as work:
        bulk_write(work.conn, scope)
        # What autovacuum, ANALYZE and VALIDATE CONSTRAINT take: free while the step runs.
        with engine.connect() as other, other.begin():
            other.execute(text("LOCK TABLE migration.assets IN SHARE UPDATE EXCLUSIVE MODE NOWAIT"))
        assert not tenant_in_statistics(engine, scope)
    # Analyzed once committed: the next unit of work plans for the partition's real size.
    assert tenant_in_statistics(engine, scope)
    with engine.connect() as conn:
        assert conn.execute(text("SHOW enable_nestloop")).scalar_one() == "on"


def test_a_rolled_back_bulk_write_analyzes_nothing(engine):
    scope = make_tenant(engine, KEY)
    before = manual_analyzes(engine)
    with pytest.raises(Boom), partition_transaction(engine, KEY) as work:
        bulk_write(work.conn, scope)
        raise Boom
    with partition_transaction(engine, KEY):
        pass  # whichever pooled connection it gets, nothing is left noted on it
    assert manual_analyzes(engine) == before
    assert not tenant_in_statistics(engine, scope)


def test_a_busy_table_keeps_its_statistics_and_the_work_stays_committed(engine, caplog):
    scope = make_tenant(engine, KEY)
    with engine.connect() as conn:
        take_pending(conn)
        with conn.begin():
            bulk_write(conn, scope)
        with engine.connect() as holder, holder.begin():
            holder.execute(text("LOCK TABLE migration.assets IN SHARE UPDATE EXCLUSIVE MODE"))
            with caplog.at_level(logging.WARNING, logger="wiring_pipeline.db.transactions"):
                assert refresh_statistics(conn, lock_timeout_ms=50) == []
        assert take_pending(conn) == ()  # given up, not retried by the next unit of work
        assert refresh_statistics(conn) == []
    assert "statistics of migration.assets not refreshed" in caplog.text
    assert not tenant_in_statistics(engine, scope)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM migration.assets")).scalar_one()
    assert count == ANALYZE_AFTER_ROWS
