"""The transactions of a backfill: one short transaction per batch, retried on lock waits.

The domain (`domain/backfill/`) plans and applies one batch on a connection it is given;
this module owns the transaction boundaries, as `transactions.partition_transaction` does
for a unit of work. Each batch holds its row locks for one statement and waits at most
`lock_timeout_ms` for a row a live application holds; it then rolls back, backs off and
tries the same batch again (`retry.py`), so the application is never held up for longer
than a batch and the backfill never for longer than the application's own transaction.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine

from wiring_pipeline.db import transactions
from wiring_pipeline.db.retry import Retry, RetryPolicy, retrying
from wiring_pipeline.domain import backfill
from wiring_pipeline.domain.core.tenancy import TenantScope

DEFAULT_BATCH_SIZE = 500


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
    def batch_transaction() -> Iterator[transactions.UnitOfWork]:
        with transactions.partition_transaction(
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
        with transactions.partition_transaction(
            engine, partition_key, lock_timeout_ms=policy.lock_timeout_ms
        ) as work:
            return backfill.undo_run(work.conn, work.scope, run_id)

    return partition_key, retrying(policy, f"undo {run_id}", undo)
