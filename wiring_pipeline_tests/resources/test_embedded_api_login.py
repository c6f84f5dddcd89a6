"""The embedded server makes the API's login itself: `wiring_api` with LOGIN and nothing
else, idempotently, including over a `wiring_api` an older migration made NOLOGIN."""

from __future__ import annotations

import psycopg
from sqlalchemy import make_url

from wiring_pipeline.resources import embedded


def _attributes(dsn: str) -> tuple:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb,"
            " rolinherit FROM pg_roles WHERE rolname = %s",
            (embedded.API_LOGIN_ROLE,),
        ).fetchone()


def test_the_login_is_made_idempotently_and_only_logs_in(migrated_engine):
    dsn = migrated_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"ALTER ROLE {embedded.API_LOGIN_ROLE} NOLOGIN INHERIT")
    for _ in range(2):
        embedded.ensure_api_login(dsn)
        assert _attributes(dsn) == (True, False, False, False, False, False)


def test_the_api_url_is_the_application_database_as_the_login(monkeypatch):
    app = "postgresql+psycopg://postgres:secret@/wiring?host=/tmp/sock"
    monkeypatch.delenv("WIRING_API_DATABASE_URL", raising=False)
    derived = make_url(embedded.api_database_url(app))
    assert (derived.username, derived.password, derived.database) == ("wiring_api", None, "wiring")
    assert derived.query["host"] == "/tmp/sock"
    monkeypatch.setenv("WIRING_API_DATABASE_URL", "postgresql+psycopg://api:pw@db/wiring")
    assert embedded.api_database_url() == "postgresql+psycopg://api:pw@db/wiring"
    elsewhere = make_url(embedded.api_database_url("postgresql+psycopg://o:p@db/bench_1"))
    assert (elsewhere.username, elsewhere.password, elsewhere.database) == ("api", "pw", "bench_1")
