"""Who may read what, and the transaction every API read runs in.

Two walls. The first is the token's scope, checked from the partition key alone (so a
403 says nothing about whether the partition exists). The second is PostgreSQL: each read
runs in its own transaction that sets the request's tenant with `set_config(..., true)`
and switches to the non-owner `wiring_api` role (`SET LOCAL ROLE`), whose row-level
security policies show only that tenant's rows; both end with the transaction, so a
pooled connection goes back as it came. The whole read happens before a response is
sent: a slow or vanished client never holds a database connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, Engine, text

from wiring_pipeline.db import transactions
from wiring_pipeline.domain.access.tokens import Principal, authenticate
from wiring_pipeline.domain.core.tenancy import (
    PartitionKeyError,
    TenantScope,
    UnknownTenantError,
    parse_partition_key,
    resolve_scope,
)

#: The role the API's queries run as (created by revision 0009, with its policies).
API_ROLE = "wiring_api"
#: An API read is an index lookup or a page: bound it well below a pipeline step.
LOCK_TIMEOUT_MS = 2_000
STATEMENT_TIMEOUT_MS = 60_000

_bearer = HTTPBearer(auto_error=False, description="`wiring-pipeline token create` prints one")


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def _refuse(status: int, detail: str) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status_code=status, detail=detail, headers=headers)


def bearer_token(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> str:
    """The presented token (checked against the database in the request's transaction)."""
    if credentials is None:
        raise _refuse(401, "a bearer token is required")
    return credentials.credentials


def _authenticate(conn: Connection, token: str) -> Principal:
    principal = authenticate(conn, token)
    if principal is None:
        raise _refuse(401, "the token is unknown or revoked")
    return principal


def enter_api_role(conn: Connection, scope: TenantScope | None) -> None:
    """Make the rest of the transaction run as the API role, seeing `scope`'s rows only
    (every partition's health snapshots when `scope` is None: an admin's fleet view).

    One statement: `set_config('role', ..., true)` is `SET LOCAL ROLE`."""
    conn.execute(
        text(
            "SELECT set_config('wiring.client_account_id', :client, true),"
            " set_config('wiring.engagement_id', :engagement, true),"
            " set_config('wiring.all_tenants', :all_tenants, true),"
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
def partition_read(engine: Engine, token: str, key: str) -> Iterator[transactions.UnitOfWork]:
    """A read of one partition, in one transaction with its access check: 401 for a bad
    token, then 422 for a malformed key, 403 outside the token's scope (whether or not the
    partition exists), 404 for an unknown partition inside it."""
    with transactions.transaction(engine, LOCK_TIMEOUT_MS, STATEMENT_TIMEOUT_MS) as conn:
        principal = _authenticate(conn, token)
        try:
            parsed = parse_partition_key(key)
        except PartitionKeyError as error:
            raise _refuse(422, str(error)) from error
        if not principal.scope.allows(parsed):
            raise _refuse(403, "the token has no access to this partition")
        try:
            scope = resolve_scope(conn, key)
        except UnknownTenantError as error:
            # Not the domain's message: its hints may name another tenant's engagements.
            raise _refuse(404, f"no partition {key!r}") from error
        enter_api_role(conn, scope)
        yield transactions.UnitOfWork(conn, scope)


@contextmanager
def fleet_read(engine: Engine, token: str) -> Iterator[Connection]:
    """A read across partitions for an admin token (403 for any other): only what the
    policies open to every tenant."""
    with transactions.transaction(engine, LOCK_TIMEOUT_MS, STATEMENT_TIMEOUT_MS) as conn:
        if not _authenticate(conn, token).scope.is_admin:
            raise _refuse(403, "an admin token is required")
        enter_api_role(conn, None)
        yield conn
