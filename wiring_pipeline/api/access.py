"""Who may read what, and the transactions every API read runs in.

Two walls. The first is the token's scope, checked from the partition key alone (so a
403 says nothing about whether the partition exists). The second is PostgreSQL: the API
logs in as `wiring_api`, which owns nothing and can become no one else, and each read runs
in a transaction that sets the request's tenant with `set_config(..., true)`; the role's
row-level security policies then show only that tenant's rows. The settings end with the
transaction, so a pooled connection goes back as it came.

A request is two transactions. `authorize` is short: the token (through the lookups of
revision 0012, the only way the login reaches tokens and the registry), the recording of
its use, the key. Only then does the read run, in `tenant_read`: a read that lasts seconds
holds no lock on the token, so other requests with it never wait. The whole read happens
before a response is sent, except the export's, which is sent from a spool that never waits
for the client (`streaming.py`): a slow or vanished client never holds a database connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, Engine, text

from wiring_pipeline.db import transactions
from wiring_pipeline.domain.access.tokens import Principal, authenticate, resolve_partition
from wiring_pipeline.domain.core.tenancy import (
    PartitionKeyError,
    TenantScope,
    UnknownTenantError,
    parse_partition_key,
)

#: The role the API's queries run as (created by revision 0009, with its policies), and the
#: role `serve` logs in as.
API_ROLE = "wiring_api"
#: An API read is an index lookup or a page: bound it well below a pipeline step.
LOCK_TIMEOUT_MS = 2_000
STATEMENT_TIMEOUT_MS = 60_000
#: The access check reads one token and one key: it has no reason to wait for anything.
AUTHORIZE_TIMEOUT_MS = 2_000

_bearer = HTTPBearer(auto_error=False, description="`wiring-pipeline token create` prints one")


async def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def _refuse(status: int, detail: str) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status_code=status, detail=detail, headers=headers)


async def bearer_token(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> str:
    """The presented token (checked against the database by `authorize`)."""
    if credentials is None:
        raise _refuse(401, "a bearer token is required")
    return credentials.credentials


def enter_api_role(conn: Connection, scope: TenantScope | None) -> None:
    """Make the rest of the transaction see `scope`'s rows only (every partition's health
    snapshots when `scope` is None: an admin's fleet view), as the API role.

    Without parallel workers too: one request is one backend process, so a partition's
    measurement of a million records cannot take every core from other requests.

    One statement. `set_config('role', ..., true)` is `SET LOCAL ROLE`: nothing for the
    API's own login, which is that role; it makes an owner's connection (the tests') one."""
    conn.execute(
        text(
            "SELECT set_config('wiring.client_account_id', :client, true),"
            " set_config('wiring.engagement_id', :engagement, true),"
            " set_config('wiring.all_tenants', :all_tenants, true),"
            " set_config('max_parallel_workers_per_gather', '0', true),"
            " set_config('role', :role, true)"
        ),
        {
            "client": str(scope.client_account_id) if scope else "",
            "engagement": str(scope.engagement_id) if scope else "",
            "all_tenants": "off" if scope else "on",
            "role": API_ROLE,
        },
    )


@contextmanager
def _checking(engine: Engine, token: str) -> Iterator[tuple[Connection, Principal]]:
    """The short transaction of the access check, committed (the use recorded, its row
    lock gone) before any read: 401 for a token that is not valid."""
    with transactions.transaction(engine, AUTHORIZE_TIMEOUT_MS, AUTHORIZE_TIMEOUT_MS) as conn:
        principal = authenticate(conn, token)
        if principal is None:
            raise _refuse(401, "the token is unknown or revoked")
        yield conn, principal


def authorize(engine: Engine, token: str, key: str) -> TenantScope:
    """The partition a request may read: 401 for a bad token, then 422 for a malformed key,
    403 outside the token's scope (whether or not the partition exists), 404 for an unknown
    partition inside it."""
    with _checking(engine, token) as (conn, principal):
        try:
            parsed = parse_partition_key(key)
        except PartitionKeyError as error:
            raise _refuse(422, str(error)) from error
        if not principal.scope.allows(parsed):
            raise _refuse(403, "the token has no access to this partition")
        try:
            return resolve_partition(conn, parsed)
        except UnknownTenantError as error:
            raise _refuse(404, str(error)) from error


def authorize_admin(engine: Engine, token: str) -> None:
    """403 for any token but an admin's (401 for one that is not valid)."""
    with _checking(engine, token) as (_, principal):
        if not principal.scope.is_admin:
            raise _refuse(403, "an admin token is required")


@contextmanager
def tenant_read(
    engine: Engine, scope: TenantScope | None, *, snapshot: bool = False
) -> Iterator[Connection]:
    """A read in one transaction that sees `scope`'s rows only (None: the fleet view).

    `snapshot`: every statement sees the database as of the first (read-only REPEATABLE
    READ), for a read of several statements that must agree, such as an export's inventory
    and its conflicts; a run committing between them would otherwise show in one only. The
    level is the checkout's alone: the pool resets it when the connection comes back."""
    if snapshot:
        engine = engine.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
    with transactions.transaction(engine, LOCK_TIMEOUT_MS, STATEMENT_TIMEOUT_MS) as conn:
        enter_api_role(conn, scope)
        yield conn
