"""The export route streams the deliverable without letting the client hold the database:
the first bytes leave while the export is still being read, the tenant's wall holds, a
client that goes away stops the read, and an XLSX too large for a sheet is a 422 before
any byte (`api/streaming.py`)."""

from __future__ import annotations

import asyncio
import csv
import io
import socket
import struct
import threading
from collections.abc import Iterator

import anyio.to_thread
import httpx
import pytest
from sqlalchemy import Engine

from wiring_pipeline.api import app as app_module
from wiring_pipeline.api import streaming
from wiring_pipeline.api.app import create_app
from wiring_pipeline.api.server import api_engine
from wiring_pipeline.api.streaming import CHUNK_BYTES, ExportAbandoned, Spool
from wiring_pipeline.bench.export_load import seed_export_partition
from wiring_pipeline.domain.inventory import export
from wiring_pipeline.domain.inventory.export import EXPORT_COLUMNS, ExportError
from wiring_pipeline_tests.api.conftest import Tokens, issue, serving
from wiring_pipeline_tests.support.defects import BROKEN_KEY, NEIGHBOUR_KEY, SIBLING_KEY

KEY = "stream.export"
ASSETS = 3_000
EXPORT = "/api/v1/partitions/{}/assets/export"
#: A bound on a broken test's waits, never reached when it passes.
BOUND = 60


# --- the spool, on its own ----------------------------------------------------------


def _in_thread(job):
    return anyio.to_thread.run_sync(job)


def test_the_first_bytes_are_sent_while_the_producer_is_still_writing():
    proceed = threading.Event()

    def produce(out):
        out.write(b"a" * CHUNK_BYTES)
        out.flush()
        proceed.wait(BOUND)  # the producer cannot finish before the test lets it
        out.write(b"b" * 10)

    async def download() -> tuple[bytes, bytes]:
        spool = await Spool.start(_in_thread, produce)
        chunks = spool.chunks()
        first = await anext(chunks)
        proceed.set()
        rest = b"".join([chunk async for chunk in chunks])
        spool.close()
        return first, rest

    first, rest = asyncio.run(download())
    assert first == b"a" * CHUNK_BYTES and rest == b"b" * 10


def test_a_failure_before_the_first_bytes_is_the_answer_and_after_them_cuts_the_download():
    def refused(out):
        raise ExportError("too many")

    def broken_midway(out):
        out.write(b"a" * CHUNK_BYTES)
        out.flush()
        raise RuntimeError("the database went away")

    async def start_refused() -> None:
        await Spool.start(_in_thread, refused)

    async def download_broken() -> bytes:
        spool = await Spool.start(_in_thread, broken_midway)
        received = b""
        try:
            async for chunk in spool.chunks():
                received += chunk
        finally:
            spool.close()
        return received

    with pytest.raises(ExportError, match="too many"):
        asyncio.run(start_refused())
    with pytest.raises(RuntimeError, match="went away"):
        asyncio.run(download_broken())


def test_a_closed_download_stops_the_producer_at_its_next_write():
    gone = threading.Event()
    outcome: list[BaseException | None] = []

    def produce(out):
        out.write(b"a" * CHUNK_BYTES)
        out.flush()
        gone.wait(BOUND)
        out.write(b"b" * CHUNK_BYTES)
        out.flush()

    async def abandon() -> None:
        finished = asyncio.Event()

        async def run(job):
            try:
                await _in_thread(job)
                outcome.append(None)
            except ExportAbandoned as error:
                outcome.append(error)
                raise
            finally:
                finished.set()

        spool = await Spool.start(run, produce)
        spool.close()  # the response is over: its client went away
        gone.set()
        await finished.wait()

    asyncio.run(abandon())
    assert len(outcome) == 1 and isinstance(outcome[0], ExportAbandoned)


# --- the route ----------------------------------------------------------------------


def test_the_export_shows_the_partition_and_nothing_of_its_neighbours(client, world, tokens):
    response = client.get(EXPORT.format(BROKEN_KEY), headers=Tokens.header(tokens.broken))
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {row["asset_id"] for row in rows} == {str(a["id"]) for a in world.broken.assets}
    # Its broken links point into the sibling engagement and the neighbour tenant: their
    # flows and files must not show, whatever the join finds.
    flow_names = {row["flow_name"] for row in rows} - {""}
    files = {row["import_file"] for row in rows} - {""}
    assert flow_names and all(name.startswith(f"{BROKEN_KEY} ") for name in flow_names)
    assert files == {f"{BROKEN_KEY}.csv"}
    for other in (SIBLING_KEY, NEIGHBOUR_KEY):
        assert other not in response.text
    assert any(row["flow_name"] == "" and row["flow_id"] for row in rows)  # an orphan ref


def test_an_xlsx_too_large_for_a_sheet_is_422_before_any_byte(client, world, tokens, monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 2)
    response = client.get(
        EXPORT.format(BROKEN_KEY), params={"format": "xlsx"}, headers=Tokens.header(tokens.broken)
    )
    assert response.status_code == 422 and "export as csv" in response.json()["detail"]


class HeldExport:
    """The route's export, held after its first bytes are out until the test releases it;
    what became of it (None: finished) once it ends."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.first_bytes_out = threading.Event()
        self.release = threading.Event()
        self.ended = threading.Event()
        self.outcome: list[BaseException | None] = []
        self.spool_closed = threading.Event()
        real_export, real_close = app_module.export_inventory, Spool.close
        held = self

        class HoldAfterFirstWrite(io.RawIOBase):
            def __init__(self, out) -> None:
                self.out, self.first = out, True

            def writable(self) -> bool:
                return True

            def write(self, data) -> int:
                written = self.out.write(data)
                if self.first:
                    self.first = False
                    self.out.flush()  # to the spool, and so to the client
                    held.first_bytes_out.set()
                    held.release.wait(BOUND)
                return written

        def export_inventory(conn, scope, fmt, out, **options):
            try:
                count = real_export(conn, scope, fmt, HoldAfterFirstWrite(out), **options)
                self.outcome.append(None)
                return count
            except BaseException as error:
                self.outcome.append(error)
                raise
            finally:
                self.ended.set()

        def close(spool) -> None:
            real_close(spool)
            self.spool_closed.set()

        monkeypatch.setattr(app_module, "export_inventory", export_inventory)
        monkeypatch.setattr(streaming.Spool, "close", close)


@pytest.fixture()
def held_export(monkeypatch) -> Iterator[HeldExport]:
    held = HeldExport(monkeypatch)
    yield held
    held.release.set()


@pytest.fixture()
def one_connection(engine: Engine, api_url: str) -> Iterator[tuple[str, Engine, str]]:
    """The app under uvicorn with ONE pooled connection, a partition of ASSETS assets
    with every field filled, and a token for it."""
    with engine.begin() as conn:
        seed_export_partition(conn, KEY, ASSETS)
    token = issue(engine, partition_key=KEY)
    pool = api_engine(api_url, pool_size=1)
    try:
        with serving(create_app(pool)) as url:
            yield url, pool, token
    finally:
        pool.dispose()


def _request(url: str, token: str) -> socket.socket:
    port = int(url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        (
            f"GET {EXPORT.format(KEY)} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    return sock


def _receive_until(sock: socket.socket, marker: bytes) -> bytes:
    received = b""
    while marker not in received:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        received += chunk
    return received


def _health_answers(url: str, token: str) -> None:
    with httpx.Client(base_url=url, timeout=BOUND) as http:
        health = http.get(f"/api/v1/partitions/{KEY}/health/wiring", headers=Tokens.header(token))
    assert health.status_code == 200


def test_the_download_starts_before_the_export_has_been_read(one_connection, held_export):
    url, pool, token = one_connection
    with (
        httpx.Client(base_url=url, timeout=BOUND) as http,
        http.stream("GET", EXPORT.format(KEY), headers=Tokens.header(token)) as response,
    ):
        chunks = response.iter_bytes()
        first = next(chunks)
        # Bytes are here while the export is held after its first write: sent as it is
        # produced, not once the file is whole.
        assert response.status_code == 200 and first and held_export.outcome == []
        held_export.release.set()
        body = first + b"".join(chunks)
    assert held_export.outcome == [None]
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == ASSETS and list(rows[0]) == list(EXPORT_COLUMNS)
    _health_answers(url, token)
    assert pool.pool.checkedout() == 0


def test_a_client_that_goes_away_stops_the_export_and_frees_the_connection(
    one_connection, held_export
):
    url, pool, token = one_connection
    sock = _request(url, token)
    _receive_until(sock, b"asset_id")
    assert held_export.first_bytes_out.is_set()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset, mid-download
    assert held_export.spool_closed.wait(BOUND)
    held_export.release.set()
    assert held_export.ended.wait(BOUND)
    assert isinstance(held_export.outcome[0], ExportAbandoned)
    _health_answers(url, token)
    assert pool.pool.checkedout() == 0
