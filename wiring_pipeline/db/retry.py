"""Transactions that wait for locks briefly, roll back, back off and try again.

A live application may hold a row for longer than a batch or a constraint change should
wait; then the attempt rolls back (so it changed nothing), waits with jitter and runs again.
The backfill's batches, the constraints job's statements and the CLI share this policy.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

T = TypeVar("T")


#: lock_not_available (lock_timeout), deadlock_detected, duplicate_object (a concurrent
#: run added the same constraint first): all mean "try again", and none changed anything.
RETRYABLE_SQLSTATES = {"55P03", "40P01", "42710"}

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
