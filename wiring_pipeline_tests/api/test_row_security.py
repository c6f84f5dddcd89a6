"""The second wall: through the API's role, a query that forgets its tenant filter still
returns only the request's tenant's rows; the pipeline's owner role is unaffected."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from wiring_pipeline.api.access import API_ROLE, enter_api_role
from wiring_pipeline.domain.core.schema import metadata
from wiring_pipeline.domain.core.tenancy import resolve_scope
from wiring_pipeline.domain.health.measure import measure_wiring_health
from wiring_pipeline.domain.health.snapshots import latest_snapshots, record_snapshot
from wiring_pipeline_tests.support.defects import BROKEN_KEY

TENANT_TABLES = [t.name for t in metadata.sorted_tables if "engagement_id" in t.c]
#: (table, the filter that says which of its rows are the tenant's)
WALLED = [
    ("client_accounts", "id = :client_account_id"),
    ("engagements", "client_account_id = :client_account_id AND id = :engagement_id"),
] + [
    (name, "client_account_id = :client_account_id AND engagement_id = :engagement_id")
    for name in TENANT_TABLES
]


def _count(conn, table: str, where: str = "true", params=None) -> int:
    return conn.execute(
        text(f"SELECT count(*) FROM migration.{table} WHERE {where}"), params or {}
    ).scalar_one()


def test_an_unfiltered_query_through_the_api_role_sees_only_the_tenant(engine, world):
    with engine.begin() as conn:
        for partition in (world.broken, world.sibling, world.neighbour):
            record_snapshot(conn, measure_wiring_health(conn, partition.scope), None)
    with engine.connect() as conn, conn.begin():
        scope = resolve_scope(conn, BROKEN_KEY)
        expected = {t: _count(conn, t, where, scope.as_params()) for t, where in WALLED}
        everything = {t: _count(conn, t) for t, _ in WALLED}
        enter_api_role(conn, scope)
        assert conn.execute(text("SELECT current_user")).scalar_one() == API_ROLE
        seen = {t: _count(conn, t) for t, _ in WALLED}
    assert seen == expected
    # The test proves something only where other tenants' rows were there to leak.
    for table in ("client_accounts", "engagements", "assets", "raw_import_records"):
        assert 0 < seen[table] < everything[table], table


def test_with_no_tenant_set_the_api_role_sees_nothing(engine, world):
    with engine.connect() as conn, conn.begin():
        conn.execute(text(f"SET LOCAL ROLE {API_ROLE}"))
        assert {t: _count(conn, t) for t, _ in WALLED} == {t: 0 for t, _ in WALLED}


def test_the_all_tenants_view_opens_health_snapshots_only(engine, world):
    with engine.begin() as conn:
        for partition in (world.broken, world.neighbour):
            record_snapshot(conn, measure_wiring_health(conn, partition.scope), None)
    with engine.connect() as conn, conn.begin():
        enter_api_role(conn, None)
        keys = [snapshot.partition_key for snapshot in latest_snapshots(conn)]
        assert keys == sorted([world.broken.scope.partition_key, "clean.neighbour"])
        assert _count(conn, "assets") == 0


def test_the_api_role_cannot_write_or_read_tokens(engine, world):
    statements = [
        "DELETE FROM migration.assets",
        "UPDATE migration.raw_import_records SET asset_id = NULL",
        "SELECT count(*) FROM migration.api_tokens",
    ]
    for statement in statements:
        with engine.connect() as conn, conn.begin():
            enter_api_role(conn, resolve_scope(conn, BROKEN_KEY))
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text(statement))


def test_the_role_is_switched_for_the_transaction_only(engine, world):
    with engine.connect() as conn:
        with conn.begin():
            enter_api_role(conn, resolve_scope(conn, BROKEN_KEY))
        with conn.begin():
            assert conn.execute(text("SELECT current_user")).scalar_one() != API_ROLE
            assert conn.execute(
                text("SELECT current_setting('wiring.client_account_id', true)")
            ).scalar_one() in (None, "")
            assert _count(conn, "assets") > _count(
                conn,
                "assets",
                "client_account_id = :c",
                {"c": world.broken.scope.client_account_id},
            )


def test_the_owner_bypasses_row_security_and_the_api_role_is_no_owner(engine):
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                """SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                          pg_get_userbyid(c.relowner) AS owner
                   FROM pg_class c WHERE c.relnamespace = 'migration'::regnamespace
                   AND c.relkind = 'r' AND c.relname = ANY(:names)"""
            ),
            {"names": [t for t, _ in WALLED]},
        ).all()
        role = conn.execute(
            text("SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = :r"),
            {"r": API_ROLE},
        ).one()
    assert {t.relname for t in tables} == {t for t, _ in WALLED}
    assert all(t.relrowsecurity and not t.relforcerowsecurity for t in tables)
    assert all(t.owner != API_ROLE for t in tables)
    # It is the API's login (made by the embedded server or the administrator): it logs
    # in, and is nothing more (test_api_login.py).
    assert not (role.rolsuper or role.rolbypassrls)
