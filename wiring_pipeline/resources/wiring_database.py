"""The application database as a Dagster resource.

A Dagster step owns its unit of work: it opens `unit_of_work(partition_key)`, passes the
connection and scope to domain functions, and the step's success or failure commits or
rolls back everything it did.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Connection, Engine

from wiring_pipeline import settings
from wiring_pipeline.db import engines, transactions
from wiring_pipeline.resources import embedded


class WiringDatabase(ConfigurableResource):
    """PostgreSQL holding the `migration` schema; the embedded server when no URL is set.

    The embedded server stands in on a workstation only: under an orchestrator (a
    Kubernetes pod, an ECS task, ...) a missing URL stops with one message naming
    `WIRING_DATABASE_URL`, unless `WIRING_EMBEDDED_DATABASE=1` asks for it (`settings`).
    """

    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL; unset means WIRING_DATABASE_URL, then the embedded server "
            "(refused under an orchestrator unless WIRING_EMBEDDED_DATABASE=1)."
        ),
    )
    lock_timeout_ms: int = Field(default=transactions.DEFAULT_LOCK_TIMEOUT_MS)
    statement_timeout_ms: int = Field(default=transactions.DEFAULT_STATEMENT_TIMEOUT_MS)
    partition_lock_wait_ms: int = Field(default=transactions.DEFAULT_PARTITION_LOCK_WAIT_MS)

    def url(self) -> str:
        # The configured URL is asked for here, not only inside `embedded`: that question
        # is the guard against an embedded server in a pod, and it must hold for every step.
        return (
            self.database_url
            or settings.configured_database_url()
            or embedded.application_database_url()
        )

    def engine(self) -> Engine:
        return engines.get_engine(self.url())

    @contextmanager
    def unit_of_work(self, partition_key: str) -> Iterator[transactions.UnitOfWork]:
        """One transaction on one partition, locked against a second unit of work on it."""
        with transactions.partition_transaction(
            self.engine(),
            partition_key,
            lock_timeout_ms=self.lock_timeout_ms,
            statement_timeout_ms=self.statement_timeout_ms,
            partition_lock_wait_ms=self.partition_lock_wait_ms,
        ) as work:
            yield work

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction not tied to a partition (sensors, instance-wide jobs)."""
        with transactions.transaction(
            self.engine(), self.lock_timeout_ms, self.statement_timeout_ms
        ) as conn:
            yield conn
