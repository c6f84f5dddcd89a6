"""The app on the test database, logged in as `serve` logs in, and tokens of every scope
for the defect world."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, make_url

from wiring_pipeline.api import app as app_module
from wiring_pipeline.api.app import create_app
from wiring_pipeline.api.server import api_engine
from wiring_pipeline.domain.access.tokens import create_token
from wiring_pipeline.resources import embedded
from wiring_pipeline_tests.support.defects import BROKEN_KEY, DefectWorld, build_defect_world


@dataclass
class Tokens:
    broken: str
    defect_client: str
    neighbour: str
    admin: str

    @staticmethod
    def header(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def issue(engine: Engine, **scope) -> str:
    with engine.begin() as conn:
        return create_token(conn, **scope).token


@pytest.fixture()
def world(engine: Engine) -> DefectWorld:
    return build_defect_world(engine)


@pytest.fixture()
def tokens(engine: Engine, world: DefectWorld) -> Tokens:
    return Tokens(
        broken=issue(engine, partition_key=BROKEN_KEY, name="broken only"),
        defect_client=issue(engine, client_slug="defect"),
        neighbour=issue(engine, partition_key=world.neighbour.scope.partition_key),
        admin=issue(engine, admin=True),
    )


@pytest.fixture(scope="session")
def api_url(migrated_engine: Engine) -> str:
    """The test database as the API's login sees it (the login made as the embedded server
    makes it, also on a server named by WIRING_TEST_DATABASE_URL)."""
    owner = migrated_engine.url
    embedded.ensure_api_login(
        owner.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    return embedded.api_database_url(owner.render_as_string(hide_password=False))


@pytest.fixture()
def app_engine(engine: Engine, api_url: str) -> Iterator[Engine]:
    """The API's own engine on the test database, as `serve` makes it."""
    own = api_engine(api_url, pool_size=2)
    assert make_url(api_url).username == embedded.API_LOGIN_ROLE
    yield own
    own.dispose()


@pytest.fixture()
def client(app_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(app_engine)) as test_client:
        yield test_client


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The app under a real uvicorn on a free loopback port, in a thread; its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        for _ in range(1200):  # a bounded wait for the server to have started
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.05)
        assert server.started, "uvicorn did not start"
        yield url
    finally:
        server.should_exit = True
        thread.join(30)
        listener.close()


class HeldHealth:
    """The health route's measurement of one partition made to wait until released: a long
    request at will (the measurement itself still runs, on the request's connection)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, partition_key: str) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        measure = app_module.measure_wiring_health

        def held(conn, scope, **options):
            if scope.partition_key == partition_key:
                self.calls += 1
                self.entered.set()
                self.release.wait(60)  # a bound on a broken test, never reached when green
            return measure(conn, scope, **options)

        monkeypatch.setattr(app_module, "measure_wiring_health", held)


@pytest.fixture()
def held_health(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldHealth]:
    """The broken partition's health, held until the test releases it (always, at the end)."""
    held = HeldHealth(monkeypatch, BROKEN_KEY)
    yield held
    held.release.set()
