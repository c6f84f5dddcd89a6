"""A download as it is produced, without letting the client hold the database.

An export streamed straight from the cursor to the socket would hold its connection (and
its read transaction) for as long as the client takes to read: a stalled client would
hold it for ever, and a pool of ten would be ten slow downloads from refusing every
request. Building the file in memory first holds nothing, but costs the whole file per
request (600 000 assets: 2 GB).

So the export goes through a spool: the producer, in a worker thread behind the
partition's gate, writes into an unlinked temporary file at the database's pace and lets
the connection go as soon as the last row is written; the response sends the spool's
bytes as they land, at the client's pace. Memory stays flat, the first bytes leave at
once, and a slow client holds a file on disk, never a connection. A client that goes away
stops the producer at its next write (its transaction rolls back, its connection returns
to the pool), and the file goes with the last of the two to finish.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import BinaryIO

import anyio.to_thread
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

logger = logging.getLogger("wiring_pipeline.api")

#: Bytes the producer hands over at a time, and the most the response sends at once.
CHUNK_BYTES = 256 * 1024

Produce = Callable[[BinaryIO], None]
#: How the producer is run: `lambda work: gate.run(partition, work)`.
Runner = Callable[[Callable[[], None]], Awaitable[None]]


class ExportAbandoned(Exception):
    """The response ended (the client went away) while the producer was still writing."""


class _SpoolWriter(io.RawIOBase):
    """The producer's end: each write goes to the file and wakes the response."""

    def __init__(self, spool: Spool) -> None:
        self._spool = spool

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return self._spool._append(data)


class Spool:
    """One download's temporary file, written by one producer thread and read by one
    response (see the module's docstring). Everything but `_append` runs on the loop."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        # Unlinked, so nothing is left behind on a crash; closed by `close`, which outlives
        # any `with` here (the producer may still be writing when the response ends).
        self._file = tempfile.TemporaryFile()  # noqa: SIM115
        self._fd = self._file.fileno()
        self._written = 0  # set by the producer only
        self._abandoned = False  # set by the response only
        self._sealed = False  # set by the producer once it has written its last byte
        self._grown = asyncio.Event()
        self._task: asyncio.Future | None = None

    @classmethod
    async def start(cls, run: Runner, produce: Produce) -> Spool:
        """Run `produce(stream)` through `run` and wait for its first bytes, so that a
        failure before them (the request refused, a busy database) is the request's
        answer; a failure after them cuts the download short."""
        spool = cls()

        def work() -> None:
            stream = io.BufferedWriter(_SpoolWriter(spool), CHUNK_BYTES)
            try:
                produce(stream)
                stream.flush()
            finally:
                spool._sealed = True  # a failed export's last buffer is dropped, not sent

        spool._task = asyncio.ensure_future(run(work))
        spool._task.add_done_callback(spool._landed)
        try:
            while True:
                spool._grown.clear()  # before looking: a write from now on sets it again
                if spool._written or spool._task.done():
                    break
                await spool._grown.wait()
            if spool._task.done() and spool._task.exception() is not None:
                raise spool._task.exception()
        except BaseException:
            spool.close()
            raise
        return spool

    def response(self, **options) -> StreamingResponse:
        """The download (`options` as for a StreamingResponse); the spool closes with it."""
        return _SpooledResponse(self, **options)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The spool's bytes as they land, to the producer's end; the producer's error
        once they are sent, if it failed (the client then sees a download cut short)."""
        sent = 0
        while True:
            self._grown.clear()  # before looking: a write from now on sets it again
            available = self._written
            if sent < available:
                size = min(CHUNK_BYTES, available - sent)
                data = await anyio.to_thread.run_sync(os.pread, self._fd, size, sent)
                sent += len(data)
                yield data
            elif self._task.done():
                if sent < self._written:  # the last write landed just before the end
                    continue
                error = self._task.exception()
                if error is not None:
                    logger.warning("a download was cut short after %d bytes: %r", sent, error)
                    raise error
                return
            else:
                await self._grown.wait()

    def close(self) -> None:
        """The response is over: the producer stops at its next write, and the file is
        closed once the producer can no longer write to it (never before: its descriptor
        could by then name another file)."""
        self._abandoned = True
        if self._task is None or self._task.done():
            self._file.close()
        else:
            self._task.add_done_callback(lambda _: self._file.close())

    def _append(self, data) -> int:
        """(In the producer's thread.) Write `data` to the file and tell the response."""
        if self._sealed:
            return len(data)
        if self._abandoned:
            raise ExportAbandoned("the download ended before the export did")
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += os.write(self._fd, view[done:])
        self._written += done
        self._loop.call_soon_threadsafe(self._grown.set)
        return done

    def _landed(self, task: asyncio.Future) -> None:
        self._grown.set()
        if not task.cancelled() and isinstance(task.exception(), ExportAbandoned):
            logger.info("an export stopped: its client went away")


class _SpooledResponse(StreamingResponse):
    def __init__(self, spool: Spool, **options) -> None:
        super().__init__(spool.chunks(), **options)
        self._spool = spool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._spool.close()
