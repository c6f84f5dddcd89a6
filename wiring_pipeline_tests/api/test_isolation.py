"""One partition's heavy requests cannot starve another's: identical health requests of a
partition share one measurement, and a partition runs at most `partition_concurrency`
database reads at a time, so the rest of the pool stays free for other partitions.

The broken partition's measurement is held (`held_health`) to stand for a measurement of
a million records; the figures under real load are `bench-api`'s."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import text

from wiring_pipeline.api.access import tenant_read
from wiring_pipeline.api.app import create_app
from wiring_pipeline_tests.api.conftest import Tokens, serving
from wiring_pipeline_tests.support.defects import BROKEN_KEY, NEIGHBOUR_KEY

HEALTH = "/api/v1/partitions/{}/health/wiring"


def _until(condition) -> bool:
    """Wait (boundedly) for the app to have taken in the requests sent."""
    for _ in range(1200):
        if condition():
            return True
        threading.Event().wait(0.05)
    return False


def test_a_held_partition_leaves_the_pool_to_another(tokens, app_engine, held_health):
    app = create_app(app_engine, partition_concurrency=1)  # the pool has 2 connections
    broken = Tokens.header(tokens.broken)
    requests = [
        (HEALTH.format(BROKEN_KEY), {}),
        (HEALTH.format(BROKEN_KEY), {}),
        (HEALTH.format(BROKEN_KEY), {"detail": "true"}),
        (f"/api/v1/partitions/{BROKEN_KEY}/assets", {}),
    ]
    with serving(app) as url, ThreadPoolExecutor(len(requests)) as pool:

        def send(path: str, params: dict):
            return pool.submit(httpx.get, url + path, params=params, headers=broken, timeout=60)

        pending = [send(*requests[0])]
        try:
            # The first holds the partition's one place; the others queue behind it.
            assert held_health.entered.wait(60)
            pending += [send(*request) for request in requests[1:]]
            assert _until(lambda: app.state.isolation.demand(BROKEN_KEY) == len(requests))
            other = httpx.get(
                url + HEALTH.format(NEIGHBOUR_KEY), headers=Tokens.header(tokens.neighbour)
            )
            calls_while_held = held_health.calls
        finally:
            held_health.release.set()
        answers = [future.result() for future in pending]
    assert other.status_code == 200 and other.json()["tenant"]["partition_key"] == NEIGHBOUR_KEY
    assert calls_while_held == 1  # one read of the held partition at a time
    assert [a.status_code for a in answers] == [200] * len(requests)
    assert answers[0].json() == answers[1].json()
    assert held_health.calls == 2  # the plain health once (shared), the detailed once


def test_identical_health_requests_share_one_measurement(tokens, app_engine, held_health):
    app = create_app(app_engine)
    clients = 5
    with serving(app) as url, ThreadPoolExecutor(clients) as pool:
        every_scope = [tokens.broken, tokens.defect_client, tokens.admin] * 2
        pending = [
            pool.submit(
                httpx.get,
                url + HEALTH.format(BROKEN_KEY),
                headers=Tokens.header(token),
                timeout=60,
            )
            for token in every_scope[:clients]
        ]
        try:
            assert held_health.entered.wait(60)
            assert _until(lambda: app.state.isolation.demand(BROKEN_KEY) == clients)
        finally:
            held_health.release.set()
        answers = [future.result() for future in pending]
    assert [a.status_code for a in answers] == [200] * clients
    assert all(a.json() == answers[0].json() for a in answers)
    assert held_health.calls == 1


def test_a_refused_request_never_joins_a_measurement(tokens, app_engine, held_health):
    """The access check runs per request, before any sharing: a token of another partition
    gets its 403 at once even while an authorised measurement runs."""
    app = create_app(app_engine)
    with serving(app) as url, ThreadPoolExecutor(1) as pool:
        running = pool.submit(
            httpx.get, url + HEALTH.format(BROKEN_KEY), headers=Tokens.header(tokens.broken)
        )
        try:
            assert held_health.entered.wait(60)
            refused = httpx.get(
                url + HEALTH.format(BROKEN_KEY), headers=Tokens.header(tokens.neighbour)
            )
        finally:
            held_health.release.set()
        assert running.result().status_code == 200
    assert refused.status_code == 403


def test_a_read_is_one_backend_process(app_engine, world):
    """No parallel workers for an API read: a big partition's measurement uses one core."""
    with tenant_read(app_engine, world.broken.scope) as conn:
        assert conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one() == "0"
    with app_engine.connect() as conn:
        assert conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one() != "0"
