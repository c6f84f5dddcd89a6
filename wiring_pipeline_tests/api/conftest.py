"""The app on the test database, and tokens of every scope for the defect world."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from wiring_pipeline.api.app import create_app
from wiring_pipeline.api.server import api_engine
from wiring_pipeline.domain.access.tokens import create_token
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


@pytest.fixture()
def app_engine(engine: Engine) -> Iterator[Engine]:
    """The API's own engine on the test database, as `serve` makes it."""
    own = api_engine(engine.url.render_as_string(hide_password=False), pool_size=2)
    yield own
    own.dispose()


@pytest.fixture()
def client(app_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(app_engine)) as test_client:
        yield test_client
