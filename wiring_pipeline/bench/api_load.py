"""A bounded load test of `serve` on loopback: many concurrent clients reading a small
partition's health and asset pages while a partition of a million assets sits beside it;
then the small partition's health, asked by one client, while 20 clients ask for the big
partition's health (DESIGN 4a: its p99 under 100 ms).

Everything is local and finite: a throwaway database on the configured server, `serve`
as a subprocess on a free 127.0.0.1 port, a fixed number of requests (and a time limit
after which the run stops and reports what it has). The figures are a benchmark for the
README, never a test's pass mark.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import Connection, create_engine, text

from wiring_pipeline.bench.runner import machine_info, throwaway_database
from wiring_pipeline.db import engines
from wiring_pipeline.domain.access.tokens import create_token
from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.core.tenancy import tenant_filter
from wiring_pipeline.domain.health.measure import measure_wiring_health
from wiring_pipeline.domain.health.snapshots import record_snapshot
from wiring_pipeline.domain.ingest.flows import add_flow
from wiring_pipeline.domain.ingest.registry import add_tenant
from wiring_pipeline.resources import embedded
from wiring_pipeline.samples.cmdb_generator import CMDB_FIELD_MAPPINGS

BIG_KEY = "load.big"
SMALL_KEY = "load.small"
SMALL_RECORDS = 1_000
#: Sequential requests for the big partition's first page (its `total` counts 1M rows).
BIG_PAGE_SAMPLES = 20
#: Clients asking for the big partition's health, each again as soon as it is answered.
HEAVY_CLIENTS = 20
#: Sequential requests for the small partition's health while they do.
PROBES = 500
SERVER_START_SECONDS = 60

Progress = Callable[[str], None]

# Linked raw records and assets of one partition, set-based (the pipeline's own output
# shape, without running the pipeline: the API only reads).
_SEED_SQL = (
    """
    INSERT INTO migration.raw_import_records
        (client_account_id, engagement_id, row_number, raw_data, cleansed_data,
         is_processed, processed_at, processing_notes)
    SELECT :client_account_id, :engagement_id, n,
           jsonb_build_object('Hostname', 'host-' || n),
           '{"status": "cleansed", "field_count": 1}', true, now(), 'Linked to: load test'
    FROM generate_series(1, :records) AS n
    """,
    f"""
    INSERT INTO migration.assets
        (client_account_id, engagement_id, name, hostname, asset_type, environment,
         discovery_method, discovery_source, discovery_flow_id, raw_import_records_id,
         custom_attributes, source_phase, current_phase)
    SELECT r.client_account_id, r.engagement_id, 'server-' || r.row_number,
           'host-' || r.row_number, 'Server', 'Production', 'flow_based', 'Discovery Flow',
           :flow_row_id, r.id, '{{}}', 'discovery', 'discovery'
    FROM migration.raw_import_records r
    WHERE {tenant_filter("r")}
    """,
    f"""
    UPDATE migration.raw_import_records r SET asset_id = a.id
    FROM migration.assets a
    WHERE {tenant_filter("r")} AND {tenant_filter("a")}
      AND a.raw_import_records_id = r.id
    """,
)


class LoadTestError(UserInputError):
    """A load test that cannot run (bad counts, a server that does not start)."""


@dataclass
class RouteFigures:
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def record(self, elapsed_ms: float, error: str | None) -> None:
        """A successful request's latency, or one more error of its kind."""
        if error is None:
            self.latencies_ms.append(elapsed_ms)
        else:
            self.errors[error] = self.errors.get(error, 0) + 1

    def as_json(self) -> dict:
        ordered = sorted(self.latencies_ms)

        def pct(p: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)

        return {
            "requests": len(ordered) + sum(self.errors.values()),
            "errors": self.errors,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": round(ordered[-1], 2) if ordered else None,
            "mean_ms": round(statistics.fmean(ordered), 2) if ordered else None,
        }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _outcome(response: httpx.Response) -> str | None:
    return None if response.status_code == 200 else str(response.status_code)


def timed_get(client: httpx.Client, figures: RouteFigures, path: str, token: str) -> None:
    """One request, its latency or its error recorded in `figures`."""
    started = time.perf_counter()
    try:
        outcome = _outcome(client.get(path, headers=_bearer(token)))
    except httpx.HTTPError as error:
        outcome = type(error).__name__
    figures.record((time.perf_counter() - started) * 1000, outcome)


async def timed_aget(
    client: httpx.AsyncClient,
    figures: RouteFigures,
    path: str,
    token: str,
    params: dict | None = None,
) -> None:
    """`timed_get` for the concurrent clients."""
    started = time.perf_counter()
    try:
        outcome = _outcome(await client.get(path, params=params, headers=_bearer(token)))
    except httpx.HTTPError as error:
        outcome = type(error).__name__
    figures.record((time.perf_counter() - started) * 1000, outcome)


def seed_partition(conn: Connection, key: str, records: int) -> None:
    scope, _ = add_tenant(conn, key)
    flow = add_flow(conn, scope, CMDB_FIELD_MAPPINGS, flow_name=f"{key} flow")
    params = {**scope.as_params(), "records": records, "flow_row_id": flow["id"]}
    for statement in _SEED_SQL:
        conn.execute(text(statement), params)
        # Plan the next statement for the rows just written, not for an empty tenant
        # (stale statistics make the UPDATE ... FROM a quadratic nested loop).
        conn.execute(text("ANALYZE migration.raw_import_records, migration.assets"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(url: str) -> Iterator[str]:
    """`wiring-pipeline serve` of the database `url` (the owner's URL: serve logs in as the
    API role) on a free loopback port; stopped (SIGINT, then killed)."""
    port = _free_port()
    command = os.path.join(os.path.dirname(sys.executable), "wiring-pipeline")
    # The API's login on the throwaway database: as `serve` logs in on the real one.
    env = {
        **os.environ,
        "WIRING_DATABASE_URL": url,
        "WIRING_API_DATABASE_URL": embedded.api_database_url(url),
    }
    process = subprocess.Popen(
        [command, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if process.poll() is not None:
                raise LoadTestError(f"serve exited at start: {process.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise LoadTestError(f"serve did not answer within {SERVER_START_SECONDS}s")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _drive(
    base: str, token: str, requests: int, clients: int, max_seconds: float
) -> tuple[dict[str, RouteFigures], float]:
    """`clients` workers share `requests` requests: health and asset pages, alternating."""
    routes = {
        "health": (f"/api/v1/partitions/{SMALL_KEY}/health/wiring", lambda: {}),
        "assets": (
            f"/api/v1/partitions/{SMALL_KEY}/assets",
            lambda: {"page": random.randint(1, SMALL_RECORDS // 50), "page_size": 50},
        ),
    }
    figures = {name: RouteFigures() for name in routes}
    names = list(routes)
    issued = 0
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal issued
        while issued < requests and time.monotonic() < deadline:
            name = names[issued % len(names)]
            issued += 1
            path, params = routes[name]
            await timed_aget(client, figures[name], path, token, params())

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    return figures, time.perf_counter() - started


def _big_page_figures(base: str, token: str) -> dict:
    figures = RouteFigures()
    with httpx.Client(base_url=base, timeout=120) as client:
        for _ in range(BIG_PAGE_SAMPLES):
            timed_get(client, figures, f"/api/v1/partitions/{BIG_KEY}/assets", token)
    return figures.as_json()


def _heavy_load(base: str, token: str, clients: int, settled, stop, results) -> None:
    """(In a process of its own.) `clients` clients asking for the big partition's health,
    each again as soon as it is answered, until `stop`; `settled` once each has had one
    answer. Its own process, so that its twenty answers landing at once are no part of the
    probe's latency."""
    figures = RouteFigures()

    async def client_loop(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            await timed_aget(client, figures, f"/api/v1/partitions/{BIG_KEY}/health/wiring", token)
            if len(figures.latencies_ms) + sum(figures.errors.values()) >= clients:
                settled.set()

    async def main() -> None:
        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=300) as client:
            await asyncio.gather(*(client_loop(client) for _ in range(clients)))

    asyncio.run(main())
    results.put(figures.as_json())


def _health_beside_heavy_load(
    base: str, small_token: str, big_token: str, heavy_clients: int, probes: int
) -> dict:
    """`probes` sequential health requests of the small partition while `heavy_clients`
    clients keep asking for the big partition's health (started first, stopped after)."""
    context = multiprocessing.get_context("spawn")
    settled, stop, results = context.Event(), context.Event(), context.Queue()
    heavy = context.Process(
        target=_heavy_load, args=(base, big_token, heavy_clients, settled, stop, results)
    )
    heavy.start()
    small = RouteFigures()
    try:
        if not settled.wait(SERVER_START_SECONDS * 10):
            raise LoadTestError("the big partition's health did not answer every client")
        with httpx.Client(base_url=base, timeout=60) as client:
            for _ in range(probes):
                timed_get(
                    client, small, f"/api/v1/partitions/{SMALL_KEY}/health/wiring", small_token
                )
    finally:
        stop.set()
        big = results.get(timeout=600) if heavy.is_alive() or not results.empty() else {}
        heavy.join(60)
    return {"heavy_clients": heavy_clients, "small_health": small.as_json(), "big_health": big}


def run_load_test(
    *,
    requests: int = 10_000,
    clients: int = 50,
    big_records: int = 1_000_000,
    heavy_clients: int = HEAVY_CLIENTS,
    probes: int = PROBES,
    max_seconds: float = 900,
    keep: bool = False,
    progress: Progress = lambda label: None,
) -> dict:
    if min(requests, clients, big_records, heavy_clients, probes) < 1:
        raise LoadTestError(
            "--requests, --clients, --big-records, --heavy-clients and --probes must be at least 1"
        )
    base_url = embedded.application_database_url()
    with throwaway_database(base_url, keep) as url:
        engine = create_engine(url)
        try:
            engines.upgrade(engine)
            progress(f"seeding {big_records:,} assets beside {SMALL_RECORDS:,}")
            with engine.begin() as conn:
                seed_partition(conn, BIG_KEY, big_records)
                seed_partition(conn, SMALL_KEY, SMALL_RECORDS)
            # What autovacuum does on a live server between the load and the readers.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE migration.raw_import_records, migration.assets"))
            with engine.begin() as conn:
                small = add_tenant(conn, SMALL_KEY)[0]
                record_snapshot(conn, measure_wiring_health(conn, small), None)
                small_token = create_token(conn, partition_key=SMALL_KEY).token
                big_token = create_token(conn, partition_key=BIG_KEY).token
                machine = machine_info(conn)
            progress(f"serving; {requests:,} requests from {clients} clients")
            with running_server(url) as base:
                figures, seconds = asyncio.run(
                    _drive(base, small_token, requests, clients, max_seconds)
                )
                progress("the big partition's first page, sequentially")
                big_page = _big_page_figures(base, big_token)
                progress(
                    f"the small partition's health, {probes:,} times, while {heavy_clients}"
                    " clients ask for the big one's"
                )
                beside_heavy = _health_beside_heavy_load(
                    base, small_token, big_token, heavy_clients, probes
                )
        finally:
            engine.dispose()
    routes = {name: f.as_json() for name, f in figures.items()}
    done = sum(r["requests"] for r in routes.values())
    machine["load_average_at_end"] = os.getloadavg()
    return {
        "requests": done,
        "requested": requests,
        "clients": clients,
        "big_partition_assets": big_records,
        "small_partition_assets": SMALL_RECORDS,
        "seconds": round(seconds, 2),
        "requests_per_second": round(done / seconds, 1) if seconds else None,
        "errors": sum(
            sum(r["errors"].values())
            for r in (*routes.values(), beside_heavy["small_health"], beside_heavy["big_health"])
        ),
        "routes": routes,
        "big_partition_first_page_sequential": big_page,
        "health_beside_heavy_load": beside_heavy,
        "machine": machine,
    }


def write_figures(path: Path, figures: dict) -> None:
    path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
