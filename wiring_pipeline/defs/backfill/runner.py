"""The transactions of a backfill: one short transaction per batch, retried on lock waits.

The domain (`domain/backfill.py`) plans and applies one batch on a connection it is given;
this module owns the transaction boundaries, as `database.partition_transaction` does for
a unit of work. Each batch holds its row locks for one statement and waits at most
`lock_timeout_ms` for a row a live application holds; it then rolls back, backs off and
tries the same batch again, so the application is never held up for longer than a batch
and the backfill never for longer than the application's own transaction.
"""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from wiring_pipeline import database
from wiring_pipeline.domain import backfill
from wiring_pipeline.domain.tenancy import TenantScope

T = TypeVar("T")

#: lock_not_available (lock_timeout), deadlock_detected, duplicate_object (a concurrent
#: run added the same constraint first): all mean "try again", and none changed anything.
RETRYABLE_SQLSTATES = {"55P03", "40P01", "42710"}

DEFAULT_BATCH_SIZE = 500
DEFAULT_LOCK_TIMEOUT_MS = 1_000
DEFAULT_MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class Retry:
    """One failed attempt that will be tried again: what was being done and why it failed."""

    what: str
    attempt: int
    error: str


@dataclass(frozen=True)
class RetryPolicy:
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    on_retry: Callable[[Retry], None] | None = None

    @classmethod
    def logged(cls, log, *, lock_timeout_ms: int, max_attempts: int) -> RetryPolicy:
        """A policy that warns on `log` (a Dagster step's logger) before each retry."""
        return cls(
            lock_timeout_ms=lock_timeout_ms,
            max_attempts=max_attempts,
            on_retry=lambda retry: log.warning(
                f"{retry.what}: lock wait, attempt {retry.attempt} rolled back ({retry.error})"
            ),
        )

    def backoff_seconds(self, attempt: int) -> float:
        """Exponential with jitter, capped at ten lock timeouts."""
        cap = 10 * self.lock_timeout_ms / 1000
        return min(cap, (self.lock_timeout_ms / 1000) * 2 ** (attempt - 1)) * random.uniform(
            0.5, 1.0
        )


def retrying(policy: RetryPolicy, what: str, attempt_once: Callable[[], T]) -> T:
    """Run `attempt_once` (one whole transaction) until it gets its locks, or give up."""
    attempt = 1
    while True:
        try:
            return attempt_once()
        except DBAPIError as error:
            sqlstate = getattr(error.orig, "sqlstate", None)
            if sqlstate not in RETRYABLE_SQLSTATES or attempt >= policy.max_attempts:
                raise
            if policy.on_retry is not None:
                policy.on_retry(Retry(what, attempt, str(error.orig).strip()))
            time.sleep(policy.backoff_seconds(attempt))
            attempt += 1


@dataclass(frozen=True)
class Batch:
    table: backfill.Table
    first_id: uuid.UUID
    last_id: uuid.UUID
    tally: backfill.Tally


@dataclass
class BackfillReport:
    run_id: str
    partition_key: str
    dry_run: bool
    tally: backfill.Tally = field(default_factory=backfill.Tally)
    retries: int = 0

    def as_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "partition": self.partition_key,
            "dry_run": self.dry_run,
            "repairs": dict(self.tally.repairs),
            "unrepairable": dict(self.tally.unrepairable),
            "samples": self.tally.samples,
            "batches": self.tally.batches,
            "lock_retries": self.retries,
        }


def run_backfill(
    engine: Engine,
    partition_key: str,
    run_id: str,
    *,
    dry_run: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    policy: RetryPolicy | None = None,
    on_batch: Callable[[Batch], None] | None = None,
) -> BackfillReport:
    """Plan (dry run) or apply the repairs of one partition, batch by batch.

    A dry run runs in read-only transactions and records nothing. An execute records the
    run in `backfill_runs`, and each batch commits its repairs with their audit rows and
    the run's new totals; `on_batch` is told after each commit, so stopping between batches
    (or being killed within one) leaves a consistent, resumable state: run again.
    """
    given = policy or RetryPolicy()
    report = BackfillReport(run_id, partition_key, dry_run)

    def on_retry(retry: Retry) -> None:
        report.retries += 1
        if given.on_retry is not None:
            given.on_retry(retry)

    policy = dataclasses.replace(given, on_retry=on_retry)
    # A dry run's transactions are READ ONLY: the database itself guarantees it writes nothing.
    batch_engine = engine.execution_options(postgresql_readonly=True) if dry_run else engine

    @contextmanager
    def batch_transaction() -> Iterator[database.UnitOfWork]:
        with database.partition_transaction(
            batch_engine, partition_key, lock_timeout_ms=policy.lock_timeout_ms
        ) as work:
            yield work

    if not dry_run:

        def start() -> backfill.Tally:
            with batch_transaction() as work:
                return backfill.start_run(work.conn, work.scope, run_id)

        report.tally = retrying(policy, "start the run", start)

    for table in backfill.BATCH_TABLES:
        after: uuid.UUID | None = None
        while True:

            def one_batch(
                table: backfill.Table = table, after: uuid.UUID | None = after
            ) -> Batch | None:
                with batch_transaction() as work:
                    bounds = backfill.next_batch(work.conn, work.scope, table, after, batch_size)
                    if bounds is None:
                        return None
                    tally = _do_batch(work.conn, work.scope, run_id, table, bounds, report)
                    return Batch(table, bounds[0], bounds[1], tally)

            batch = retrying(policy, f"{table} batch after {after}", one_batch)
            if batch is None:
                break
            report.tally = report.tally.add(batch.tally)
            after = batch.last_id
            if on_batch is not None:
                on_batch(batch)

    if not dry_run:

        def finish() -> None:
            with batch_transaction() as work:
                backfill.finish_run(work.conn, work.scope, run_id)

        retrying(policy, "finish the run", finish)
    return report


def _do_batch(
    conn: Connection,
    scope: TenantScope,
    run_id: str,
    table: backfill.Table,
    bounds: tuple[uuid.UUID, uuid.UUID],
    report: BackfillReport,
) -> backfill.Tally:
    if report.dry_run:
        return backfill.plan_batch(conn, scope, table, *bounds)
    return backfill.apply_batch(conn, scope, run_id, table, *bounds, so_far=report.tally)


def undo_backfill(
    engine: Engine, run_id: str, policy: RetryPolicy | None = None
) -> tuple[str, dict[str, int]]:
    """Restore what one executed run changed, in one transaction of its partition.

    Returns the partition key and the restored rows per table.
    """
    policy = policy or RetryPolicy()
    with engine.connect() as conn:
        partition_key = backfill.find_run(conn, run_id).partition_key

    def undo() -> dict[str, int]:
        with database.partition_transaction(
            engine, partition_key, lock_timeout_ms=policy.lock_timeout_ms
        ) as work:
            return backfill.undo_run(work.conn, work.scope, run_id)

    return partition_key, retrying(policy, f"undo {run_id}", undo)
