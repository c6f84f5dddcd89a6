"""Running the app: its own engine (pool sized for the threadpool, named in
`pg_stat_activity`, logged in as the API role) under uvicorn."""

from __future__ import annotations

import uvicorn
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from wiring_pipeline.api.access import API_ROLE
from wiring_pipeline.api.app import create_app
from wiring_pipeline.domain.core.errors import UserInputError

APPLICATION_NAME = "wiring-pipeline-api"
#: Connections the API may hold; requests beyond them wait for one (at most POOL_TIMEOUT s).
POOL_SIZE = 10
POOL_TIMEOUT_SECONDS = 30
#: Longer than clients keep idle connections (httpx: 5 s), so the server is never the side
#: that closes one just as a client reuses it (a reset request). An idle connection holds
#: a socket only, never a database connection.
KEEP_ALIVE_SECONDS = 30

# What the login is, and every role it could become (SET ROLE) besides the API role.
_LOGIN_SQL = f"""
    SELECT r.rolname, r.rolsuper, r.rolbypassrls,
           pg_has_role(session_user, '{API_ROLE}', 'MEMBER') AS reaches_api_role,
           ARRAY(SELECT o.rolname FROM pg_roles o
                 WHERE o.oid <> r.oid AND o.rolname <> '{API_ROLE}'
                   AND pg_has_role(session_user, o.oid, 'MEMBER')
                 ORDER BY o.rolname) AS can_become
    FROM pg_roles r WHERE r.rolname = session_user
"""


class ApiLoginError(UserInputError):
    """The API's database login could leave row-level security, or cannot log in at all."""


def api_engine(url: str, pool_size: int = POOL_SIZE) -> Engine:
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        pool_pre_ping=True,
        connect_args={"application_name": APPLICATION_NAME},
    )


def verify_login(engine: Engine) -> None:
    """Refuse a login that row-level security would not hold: a superuser, a BYPASSRLS
    role, or one that can become any role but the API role (the tables' owner included),
    since `SET ROLE` and `RESET ROLE` are open to every statement the API runs."""
    try:
        with engine.connect() as conn:
            login = conn.execute(text(_LOGIN_SQL)).one()
    except DBAPIError as error:
        user = make_url(engine.url).username
        first = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise ApiLoginError(
            f"the API cannot log in as {user!r}: {first} (set WIRING_API_DATABASE_URL; "
            "README: row-level security)"
        ) from error
    if login.rolsuper or login.rolbypassrls:
        kind = "a superuser" if login.rolsuper else "a BYPASSRLS role"
        problem = f"is {kind}"
    elif login.can_become:
        problem = f"can become {', '.join(login.can_become)}"
    elif not login.reaches_api_role:
        problem = f"is not {API_ROLE}"
    else:
        return
    raise ApiLoginError(
        f"the API logs in as {login.rolname!r}, which {problem}: row-level security would not "
        f"hold it; log in as {API_ROLE} (WIRING_API_DATABASE_URL; README: row-level security)"
    )


def serve(url: str, host: str, port: int, access_log: bool = False) -> None:
    """Serve until interrupted, logged in with `url` (refused unless it is the API role);
    the engine's connections are closed on the way out."""
    engine = api_engine(url)
    try:
        verify_login(engine)
        uvicorn.run(
            create_app(engine),
            host=host,
            port=port,
            access_log=access_log,
            log_level="info",
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    finally:
        engine.dispose()
