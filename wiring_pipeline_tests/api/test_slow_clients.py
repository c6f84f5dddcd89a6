"""A slow client or a dropped connection holds no database connection: every route reads
the database to the end before the response is sent.

The app runs under a real uvicorn on loopback with a pool of ONE connection. A client
starts a large export and then stops reading (its receive window is tiny, so the server
is left with most of the body to send); another client that drops its connection
mid-response follows. If either still held the connection, the next request could not
get one.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, text

from wiring_pipeline.api.app import create_app
from wiring_pipeline.api.server import api_engine
from wiring_pipeline_tests.api.conftest import issue, serving
from wiring_pipeline_tests.support.factories import make_tenant

KEY = "slow.client"
#: Enough assets that the export (several MB) cannot sit in the sockets' buffers.
ASSETS = 30_000


@pytest.fixture()
def one_connection_server(api_url: str) -> Iterator[tuple[str, Engine]]:
    pool = api_engine(api_url, pool_size=1)
    try:
        with serving(create_app(pool)) as url:
            yield url, pool
    finally:
        pool.dispose()


def _start_export(url: str, token: str) -> socket.socket:
    """Request the export and read only the status line, then stop reading."""
    port = int(url.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    request = (
        f"GET /api/v1/partitions/{KEY}/assets/export HTTP/1.1\r\nHost: test\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    )
    sock.sendall(request.encode())
    assert sock.recv(12) == b"HTTP/1.1 200"
    return sock


def test_a_stalled_or_dropped_client_does_not_hold_the_connection(engine, one_connection_server):
    url, pool = one_connection_server
    scope = make_tenant(engine, KEY)
    with engine.begin() as conn:
        conn.execute(
            text(
                """INSERT INTO migration.assets (client_account_id, engagement_id, name,
                       hostname, discovery_method, custom_attributes)
                   SELECT :client_account_id, :engagement_id, 'server-' || n,
                          'host-' || n || '.example.internal', 'flow_based', '{}'
                   FROM generate_series(1, :n) AS n"""
            ),
            {**scope.as_params(), "n": ASSETS},
        )
    token = issue(engine, partition_key=KEY)
    auth = {"Authorization": f"Bearer {token}"}

    stalled = _start_export(url, token)
    dropped = _start_export(url, token)
    dropped.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    dropped.close()  # a reset, mid-response
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            for _ in range(3):
                health = client.get(f"/api/v1/partitions/{KEY}/health/wiring", headers=auth)
                assert health.status_code == 200
        assert pool.pool.checkedout() == 0
    finally:
        stalled.close()
