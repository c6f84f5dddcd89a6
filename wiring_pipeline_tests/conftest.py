"""A real PostgreSQL for the whole test run, and a fresh database migrated to head.

The embedded server starts once per run in a temporary directory (or the server named
by WIRING_TEST_DATABASE_URL is used); each run creates its own databases, so tests never
touch ./.wiring or a developer's data.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance
from sqlalchemy import Engine, create_engine, make_url, text

from wiring_pipeline import settings
from wiring_pipeline.db import engines
from wiring_pipeline.domain.core.schema import metadata
from wiring_pipeline.resources import embedded

TABLES = ", ".join(f"migration.{table.name}" for table in metadata.sorted_tables)


@pytest.fixture(scope="session")
def wiring_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("wiring_home")
    os.environ["WIRING_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def server_urls(wiring_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """URLs of two fresh databases (application and Dagster storage) on a real server."""
    suffix = uuid.uuid4().hex[:8]
    names = {"app": f"wiring_test_{suffix}", "dagster": f"dagster_test_{suffix}"}
    configured = os.environ.get("WIRING_TEST_DATABASE_URL")
    pgdata = None
    if configured:
        base = make_url(configured)
        admin = base.set(drivername="postgresql+psycopg")
        urls = {
            "app": admin.set(database=names["app"]).render_as_string(hide_password=False),
            "dagster": admin.set(
                drivername="postgresql+psycopg2", database=names["dagster"]
            ).render_as_string(hide_password=False),
        }
        admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            for name in names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    else:
        pgdata = tmp_path_factory.mktemp("pg") / "pgdata"
        server = embedded.start_embedded_server(pgdata)
        for name in names.values():
            embedded.create_database(server.libpq_dsn("postgres"), name)
        urls = {
            "app": server.url(names["app"]),
            "dagster": server.url(names["dagster"], driver="psycopg2"),
        }
    os.environ["WIRING_DATABASE_URL"] = urls["app"]
    os.environ["WIRING_DAGSTER_STORAGE_URL"] = urls["dagster"]
    yield urls
    engines.get_engine.cache_clear()
    if configured:
        with admin_engine.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
    else:
        embedded.stop_embedded_server(pgdata)


@pytest.fixture(scope="session")
def migrated_engine(server_urls: dict) -> Engine:
    engine = engines.get_engine(server_urls["app"])
    engines.upgrade(engine)
    return engine


@pytest.fixture(scope="session")
def fresh_database(server_urls: dict) -> Iterator:
    """A factory of empty databases on the test server, dropped at the end of the run."""
    url = make_url(server_urls["app"])
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def make() -> str:
        name = f"wiring_scratch_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return url.set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture()
def engine(migrated_engine: Engine) -> Engine:
    """The migrated test database, emptied before the test."""
    with migrated_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    return migrated_engine


@pytest.fixture()
def postgres_instance(fresh_database, tmp_path, monkeypatch) -> Iterator[DagsterInstance]:
    """The project's dagster.yaml (PostgreSQL storage) on a database of this test's own."""
    storage = make_url(fresh_database()).set(drivername="postgresql+psycopg2")
    monkeypatch.setenv("WIRING_DAGSTER_STORAGE_URL", storage.render_as_string(False))
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copyfile(settings.PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance
