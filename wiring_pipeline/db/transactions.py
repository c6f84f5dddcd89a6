"""The one transaction that a unit of work on a partition runs in.

This module owns transaction boundaries so that domain code never does: a Dagster step
(through the `WiringDatabase` resource) or a CLI command opens `partition_transaction`,
hands the `Connection` and `TenantScope` to domain functions, and the block's outcome
decides commit or rollback. Once a unit of work has committed, the tables it wrote in bulk
are analyzed, each in a short transaction of its own (`refresh_statistics`): ANALYZE's
table lock then lasts the ANALYZE, not the step (`domain/core/statistics.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from wiring_pipeline.domain.core import statistics
from wiring_pipeline.domain.core.errors import RetryLaterError
from wiring_pipeline.domain.core.tenancy import TenantScope, resolve_scope

#: Defaults for a unit of work: wait briefly for row and table locks, bound every statement.
DEFAULT_LOCK_TIMEOUT_MS = 5_000
DEFAULT_STATEMENT_TIMEOUT_MS = 30 * 60 * 1000
DEFAULT_PARTITION_LOCK_WAIT_MS = 60_000
#: How long the ANALYZE after a commit waits for its table lock: past another tenant's
#: ANALYZE of the table (well under a second) and past deadlock_timeout, after which
#: PostgreSQL cancels an autovacuum that is in the way; not for a `VALIDATE CONSTRAINT`
#: of minutes (the statistics then wait for autovacuum; the work is committed anyway).
ANALYZE_LOCK_TIMEOUT_MS = 2_000
ANALYZE_STATEMENT_TIMEOUT_MS = 60_000

log = logging.getLogger(__name__)


class PartitionBusyError(RetryLaterError):
    """Another unit of work holds the partition's advisory lock for longer than we wait."""


@dataclass(frozen=True)
class UnitOfWork:
    """What domain code gets: the open transaction's connection and the partition's scope."""

    conn: Connection
    scope: TenantScope


def set_local_timeouts(conn: Connection, lock_timeout_ms: int, statement_timeout_ms: int) -> None:
    """Bound lock waits and statements for the current transaction only."""
    conn.execute(
        text(
            "SELECT set_config('lock_timeout', :lock, true),"
            " set_config('statement_timeout', :stmt, true)"
        ),
        {"lock": f"{int(lock_timeout_ms)}ms", "stmt": f"{int(statement_timeout_ms)}ms"},
    )


def lock_partition(conn: Connection, partition_key: str, wait_ms: int) -> None:
    """Take the partition's advisory transaction lock, waiting at most `wait_ms`.

    Two units of work on one partition then run one after the other; other partitions
    are not held up. The lock is released with the transaction, whatever its outcome.
    """
    conn.execute(text("SELECT set_config('lock_timeout', :wait, true)"), {"wait": f"{wait_ms}ms"})
    try:
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"wiring_pipeline:partition:{partition_key}"},
        )
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) == "55P03":  # lock_not_available
            raise PartitionBusyError(
                f"partition {partition_key!r} is busy: another run holds it for more than "
                f"{wait_ms / 1000:g}s"
            ) from error
        raise


def refresh_statistics(
    conn: Connection,
    lock_timeout_ms: int = ANALYZE_LOCK_TIMEOUT_MS,
    statement_timeout_ms: int = ANALYZE_STATEMENT_TIMEOUT_MS,
) -> list[str]:
    """ANALYZE the tables the committed unit of work wrote in bulk; returns those analyzed.

    Each in a transaction of its own, so its SHARE UPDATE EXCLUSIVE lock is held only while
    it runs. The work is already committed: a table whose lock is not free in time keeps
    its statistics for autovacuum to refresh, with a warning, and the unit of work succeeds.
    """
    analyzed = []
    for table in statistics.take_pending(conn):
        try:
            with conn.begin():
                set_local_timeouts(conn, lock_timeout_ms, statement_timeout_ms)
                conn.execute(text(statistics.analyze_sql(table)))
        except OperationalError as error:  # lock or statement timeout
            log.warning("statistics of migration.%s not refreshed: %s", table, error.orig)
            continue
        analyzed.append(table)
    return analyzed


@contextmanager
def _statistics_after_commit(conn: Connection) -> Iterator[None]:
    """Around one transaction of `conn`: after its commit, refresh what it noted."""
    statistics.take_pending(conn)  # left by an earlier checkout that no owner closed
    try:
        yield
    except BaseException:
        statistics.take_pending(conn)  # rolled back: the rows it noted are gone
        raise
    refresh_statistics(conn)


@contextmanager
def transaction(
    engine: Engine,
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
) -> Iterator[Connection]:
    """One transaction not tied to a partition (sensors, instance-wide jobs, backfill batches),
    with its lock waits and statements bounded."""
    with engine.connect() as conn, _statistics_after_commit(conn), conn.begin():
        set_local_timeouts(conn, lock_timeout_ms, statement_timeout_ms)
        yield conn


@contextmanager
def partition_transaction(
    engine: Engine,
    partition_key: str,
    *,
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
    partition_lock_wait_ms: int = DEFAULT_PARTITION_LOCK_WAIT_MS,
) -> Iterator[UnitOfWork]:
    """One connection, one transaction, the partition's advisory lock, and its resolved scope.

    Commits when the block ends normally and rolls back on any exception, so a failed unit
    of work leaves nothing behind. A bad key or unknown tenant raises before any work. After
    the commit, the tables the work wrote in bulk are analyzed (`refresh_statistics`).
    """
    with engine.connect() as conn, _statistics_after_commit(conn), conn.begin():
        scope = resolve_scope(conn, partition_key)
        lock_partition(conn, scope.partition_key, partition_lock_wait_ms)
        set_local_timeouts(conn, lock_timeout_ms, statement_timeout_ms)
        yield UnitOfWork(conn, scope)
