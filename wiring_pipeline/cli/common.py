"""What every command shares: the engine, error reporting, and JSON output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy import Connection, Engine

from wiring_pipeline.db import engines, transactions
from wiring_pipeline.domain.core.tenancy import resolve_scope
from wiring_pipeline.domain.health.measure import WiringHealth, measure_wiring_health
from wiring_pipeline.resources import embedded

#: Exit code for input the command cannot act on (bad key, unknown tenant, bad file).
EXIT_BAD_INPUT = 2
#: Exit code for work done but not complete: the same command succeeds later.
EXIT_RETRY_LATER = 1
#: Exit code for Ctrl-C (128 + SIGINT), the shell's own convention.
EXIT_INTERRUPTED = 130
INTERRUPTED_MESSAGE = "interrupted: nothing of the unit of work in progress was committed"


class BadInput(click.ClickException):
    exit_code = EXIT_BAD_INPUT


class RetryLater(click.ClickException):
    """Exit 1: the same command succeeds later (the partition is busy, orphans remain)."""

    exit_code = EXIT_RETRY_LATER


def engine(migrated: bool = True) -> Engine:
    """The application database's engine; refuses to go on against an unmigrated schema."""
    eng = engines.get_engine(embedded.application_database_url())
    if migrated and engines.current_revision(eng) is None:
        raise BadInput(
            "the database has no `migration` schema yet: run `wiring-pipeline db upgrade`"
        )
    return eng


@contextmanager
def unit_of_work(partition_key: str) -> Iterator[transactions.UnitOfWork]:
    with transactions.partition_transaction(engine(), partition_key) as work:
        yield work


@contextmanager
def read_partition(partition_key: str) -> Iterator[transactions.UnitOfWork]:
    """A read of the partition as committed now, without its lock.

    Reads answer at once even while a run holds the partition (they see that run's work
    once it commits); only units of work that write take the lock.
    """
    with engine().connect() as conn, conn.begin():
        yield transactions.UnitOfWork(conn, resolve_scope(conn, partition_key))


@contextmanager
def read_snapshot() -> Iterator[Connection]:
    """One read-only REPEATABLE READ transaction: every statement sees the same snapshot.

    For reads of many statements that must agree with one another (`health --all` measures
    a chunk of partitions per statement): at READ COMMITTED each statement would see what
    had committed by its own start, so a run committing between two chunks would show in
    the later chunk only. A read-only transaction takes no locks that writers wait for, and
    at this level it cannot fail on a serialization conflict.
    """
    with engine().connect() as conn:
        # Characteristics of this checkout only: the pool resets them when it is returned.
        conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield conn


def measure_health(partition_key: str, detail: bool = False) -> WiringHealth:
    with read_partition(partition_key) as work:
        return measure_wiring_health(work.conn, work.scope, detail=detail)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))
