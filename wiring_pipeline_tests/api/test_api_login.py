"""The API's login cannot leave the second wall: it is `wiring_api` itself, neither a
superuser nor the tables' owner, and `SET ROLE` / `RESET ROLE` / `set_config('role', …)`
give it nothing more; `serve` refuses a login that could."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from wiring_pipeline.api.access import API_ROLE, enter_api_role
from wiring_pipeline.api.server import ApiLoginError, verify_login
from wiring_pipeline.cli.main import cli

ESCAPES = (
    "RESET ROLE",
    "SET ROLE postgres",
    "SET ROLE {owner}",
    "SELECT set_config('role', 'postgres', false)",
    "SELECT set_config('role', '{owner}', false)",
    "SET SESSION AUTHORIZATION postgres",
    "RESET SESSION AUTHORIZATION",
)


def _who(conn) -> tuple[str, str, bool]:
    row = conn.execute(
        text(
            "SELECT current_user AS cu, session_user AS su,"
            " (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user)"
            " AS privileged"
        )
    ).one()
    return row.cu, row.su, row.privileged


def test_no_statement_makes_the_api_login_anyone_else(engine, app_engine, world):
    with engine.connect() as conn:
        owner = conn.execute(
            text(
                "SELECT pg_get_userbyid(relowner) FROM pg_class"
                " WHERE oid = 'migration.assets'::regclass"
            )
        ).scalar_one()
        neighbours = conn.execute(
            text("SELECT count(*) FROM migration.assets WHERE client_account_id = :c"),
            {"c": world.neighbour.scope.client_account_id},
        ).scalar_one()
    assert neighbours > 0  # rows that could leak
    with app_engine.connect() as conn:
        for escape in ESCAPES:
            try:
                with conn.begin():
                    conn.execute(text(escape.format(owner=owner)))
                    assert _who(conn) == (API_ROLE, API_ROLE, False), escape
            except DBAPIError:
                pass  # refused: the transaction is rolled back
            with conn.begin():
                assert _who(conn) == (API_ROLE, API_ROLE, False), escape
                enter_api_role(conn, world.broken.scope)
                leaked = conn.execute(
                    text("SELECT count(*) FROM migration.assets WHERE client_account_id = :c"),
                    {"c": world.neighbour.scope.client_account_id},
                ).scalar_one()
                assert leaked == 0, escape
                assert conn.execute(text("SELECT count(*) FROM migration.assets")).scalar_one() > 0


def test_the_api_login_owns_nothing_and_can_become_nothing(app_engine):
    verify_login(app_engine)  # does not raise
    with app_engine.connect() as conn:
        owned = conn.execute(
            text(
                "SELECT count(*) FROM pg_class WHERE relnamespace = 'migration'::regnamespace"
                " AND pg_has_role(session_user, relowner, 'MEMBER')"
            )
        ).scalar_one()
        memberships = conn.execute(
            text(
                "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member"
                " WHERE r.rolname = session_user"
            )
        ).scalar_one()
    assert (owned, memberships) == (0, 0)


def test_serve_refuses_a_login_that_could_leave_the_wall(engine, monkeypatch):
    with pytest.raises(ApiLoginError, match="superuser"):
        verify_login(engine)  # the tests' owner: postgres
    owner_url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("WIRING_API_DATABASE_URL", owner_url)
    result = CliRunner().invoke(cli, ["serve", "--port", "0"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error:") and "superuser" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
