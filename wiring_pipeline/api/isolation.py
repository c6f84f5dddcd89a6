"""Keeping one partition's heavy requests from starving another's.

A health measurement of a million records takes seconds. Twenty clients asking for it at
once used to take every pooled connection and worker thread, and a small partition's
10 ms health waited behind them for seconds. Two rules stop that:

* Single flight: identical requests of one partition that arrive while one is being
  computed wait for that computation and share its answer (the access check still runs
  for each request first, so only an authorised request joins).
* A cap per partition: at most `per_partition` reads of one partition run at a time; the
  others wait here, on the event loop, holding neither a thread nor a connection. The rest
  of the pool stays free for other partitions.

The access checks of a partition's requests pass a gate of their own (`CHECK_CONCURRENCY`,
keyed by the key as requested): when a shared measurement lands, its twenty clients ask
again at once, and twenty checks side by side would take the worker threads (and the
interpreter) for a moment just as a small partition's request arrives.

Everything here runs on the event loop's thread, so its counters need no lock.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Hashable
from typing import TypeVar

import anyio.to_thread

T = TypeVar("T")

#: Reads of one partition at a time: a measurement and a page or an export side by side.
PARTITION_CONCURRENCY = 2
#: Access checks of one partition at a time (each a few milliseconds).
CHECK_CONCURRENCY = 2


class PartitionWork:
    """A gate per partition for one kind of work, reads or checks (see the module's
    docstring)."""

    def __init__(self, per_partition: int = PARTITION_CONCURRENCY) -> None:
        if per_partition < 1:
            raise ValueError("per_partition must be at least 1")
        self.per_partition = per_partition
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._flights: dict[Hashable, asyncio.Future] = {}
        #: Requests of each partition being served here: waiting, reading or sharing.
        self._demand: Counter[str] = Counter()
        #: Computations holding or waiting for each partition's gate.
        self._users: Counter[str] = Counter()

    def demand(self, partition: str) -> int:
        """How many requests of `partition` are in here now (waiting, running or sharing)."""
        return self._demand[partition]

    async def run(self, partition: str, work: Callable[[], T]) -> T:
        """`work()` in a worker thread once one of the partition's places is free."""
        self._demand[partition] += 1
        try:
            return await self._gated(partition, work)
        finally:
            self._leave(partition)

    async def shared(self, partition: str, flight: Hashable, work: Callable[[], T]) -> T:
        """`work()`'s answer, computed once for all requests of the same `flight` that
        arrive while it runs."""
        self._demand[partition] += 1
        try:
            running = self._flights.get(flight)
            if running is None:
                running = asyncio.ensure_future(self._gated(partition, work))
                self._flights[flight] = running
                running.add_done_callback(lambda done: self._landed(flight, done))
            # A waiter that goes away (its client did) leaves the computation to the others.
            return await asyncio.shield(running)
        finally:
            self._leave(partition)

    async def _gated(self, partition: str, work: Callable[[], T]) -> T:
        gate = self._gates.get(partition)
        if gate is None:
            gate = self._gates[partition] = asyncio.Semaphore(self.per_partition)
        self._users[partition] += 1
        try:
            async with gate:
                return await anyio.to_thread.run_sync(work)
        finally:
            self._users[partition] -= 1
            if not self._users[partition]:  # nobody holds or waits: forget the partition
                del self._users[partition], self._gates[partition]

    def _landed(self, flight: Hashable, done: asyncio.Future) -> None:
        if self._flights.get(flight) is done:
            del self._flights[flight]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter may have gone before it failed

    def _leave(self, partition: str) -> None:
        self._demand[partition] -= 1
        if not self._demand[partition]:
            del self._demand[partition]
