"""Bearer tokens of the HTTP API: the source plan's `get_current_user` + `has_tenant_access`.

A token is `wpt_<id>_<secret>`: the id finds the row, the secret (256 random bits) proves
possession. Only the SHA-256 of the whole token is stored, so a leaked table grants
nothing, and the stored and presented hashes are compared in constant time. The token is
shown once, when created. Its scope is one partition, one client account (all of its
engagements) or admin (every partition, and `/metrics`).

The API's login cannot read `api_tokens` nor, before its tenant is set, the registry: what
it needs (one token's row, recording its use, one key's ids) goes through the functions of
revision 0012, which run as their owner and answer for one token id or one key only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, select, text

from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.core.schema import api_tokens, client_accounts
from wiring_pipeline.domain.core.tenancy import (
    SLUG_PATTERN,
    PartitionKey,
    TenantScope,
    UnknownTenantError,
    resolve_scope,
)

ScopeKind = Literal["partition", "client", "admin"]

_TOKEN_PATTERN = re.compile(r"wpt_([0-9a-f]{32})_([A-Za-z0-9_-]{43})")
#: Compared against when no row matches, so an unknown id costs what a wrong secret costs.
_NO_TOKEN_HASH = hashlib.sha256(b"no such token").hexdigest()
#: `last_used_at` is written at most this often per token: not one write per request.
LAST_USED_RESOLUTION_SECONDS = 60

# Slugs come from the registry, so a token whose tenant was removed finds none (and fails).
_TOKEN_ROWS_SQL = """
    SELECT t.id, t.name, t.scope_kind, t.created_at, t.last_used_at, t.revoked_at,
           c.slug AS client_slug, e.slug AS engagement_slug
    FROM migration.api_tokens t
    LEFT JOIN migration.client_accounts c ON c.id = t.scope_client_account_id
    LEFT JOIN migration.engagements e
        ON e.id = t.scope_engagement_id AND e.client_account_id = t.scope_client_account_id
"""


class TokenError(UserInputError):
    """A token request the command cannot act on (no such token, no scope given)."""


@dataclass(frozen=True)
class TokenScope:
    kind: ScopeKind
    client_slug: str | None = None
    engagement_slug: str | None = None

    def __str__(self) -> str:
        if self.kind == "admin":
            return "admin"
        if self.kind == "client":
            return f"client:{self.client_slug}"
        return f"partition:{self.client_slug}.{self.engagement_slug}"

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"

    def allows(self, key: PartitionKey) -> bool:
        """Whether the scope covers the partition, decided from the key alone: the answer
        cannot depend on whether the partition exists."""
        if self.kind == "admin":
            return True
        if self.kind == "client":
            return key.client_slug == self.client_slug
        return (key.client_slug, key.engagement_slug) == (self.client_slug, self.engagement_slug)


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""

    token_id: uuid.UUID
    scope: TokenScope


@dataclass(frozen=True)
class IssuedToken:
    id: uuid.UUID
    token: str
    scope: TokenScope

    def as_json(self) -> dict:
        return {"id": str(self.id), "token": self.token, "scope": str(self.scope)}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    conn: Connection,
    *,
    partition_key: str | None = None,
    client_slug: str | None = None,
    admin: bool = False,
    name: str | None = None,
) -> IssuedToken:
    """Store a new token's hash and return the token itself, which is never stored."""
    if sum((partition_key is not None, client_slug is not None, admin)) != 1:
        raise TokenError("give exactly one of --partition KEY, --client SLUG or --admin")
    client_id = engagement_id = None
    if partition_key is not None:
        tenant = resolve_scope(conn, partition_key)
        client_id, engagement_id = tenant.client_account_id, tenant.engagement_id
        scope = TokenScope("partition", tenant.client_slug, tenant.engagement_slug)
    elif client_slug is not None:
        client_id = _client_id(conn, client_slug)
        scope = TokenScope("client", client_slug)
    else:
        scope = TokenScope("admin")
    token_id = uuid.uuid4()
    token = f"wpt_{token_id.hex}_{secrets.token_urlsafe(32)}"
    conn.execute(
        api_tokens.insert().values(
            id=token_id,
            name=name,
            scope_kind=scope.kind,
            scope_client_account_id=client_id,
            scope_engagement_id=engagement_id,
            token_sha256=hash_token(token),
        )
    )
    return IssuedToken(token_id, token, scope)


def _client_id(conn: Connection, slug: str) -> uuid.UUID:
    if not SLUG_PATTERN.fullmatch(slug):
        raise TokenError(f"client slug {slug!r} is malformed: 1-63 characters of a-z, 0-9, '-'")
    found = conn.execute(
        select(client_accounts.c.id).where(client_accounts.c.slug == slug)
    ).scalar_one_or_none()
    if found is None:
        raise UnknownTenantError(f"no client account with slug {slug!r}")
    return found


def _scope_of(row) -> TokenScope | None:
    """The row's scope, or None when the tenant it names no longer exists."""
    if row.scope_kind == "admin":
        return TokenScope("admin")
    if row.client_slug is None or (row.scope_kind == "partition" and row.engagement_slug is None):
        return None
    engagement = row.engagement_slug if row.scope_kind == "partition" else None
    return TokenScope(row.scope_kind, row.client_slug, engagement)


def authenticate(conn: Connection, presented: str | None) -> Principal | None:
    """The principal of a valid, unrevoked token; None for anything else, whatever the reason.

    Records the use at most once a minute per token (a busy client does not turn every
    read into a write on one row), and never waits for it: a token row another transaction
    holds is skipped. Call it in a short transaction of its own, not in a long read: the
    row lock of the write lasts until that transaction ends.
    """
    match = _TOKEN_PATTERN.fullmatch(presented or "")
    row = None
    if match:
        row = conn.execute(
            text("SELECT * FROM migration.api_token(:id, :resolution)"),
            {"id": uuid.UUID(match.group(1)), "resolution": LAST_USED_RESOLUTION_SECONDS},
        ).one_or_none()
    stored = row.token_sha256 if row is not None else _NO_TOKEN_HASH
    genuine = hmac.compare_digest(stored, hash_token(presented or ""))
    if row is None or not genuine or row.revoked_at is not None:
        return None
    scope = _scope_of(row)
    if scope is None:
        return None
    if row.stale:
        conn.execute(
            text("SELECT migration.api_record_token_use(:id, :resolution)"),
            {"id": row.id, "resolution": LAST_USED_RESOLUTION_SECONDS},
        )
    return Principal(row.id, scope)


def resolve_partition(conn: Connection, key: PartitionKey) -> TenantScope:
    """The ids of the partition `key` names, as the API's login may look them up (it sees no
    registry row before its tenant is set); UnknownTenantError, naming only `key`, if none."""
    found = conn.execute(
        text("SELECT * FROM migration.api_partition(:client, :engagement)"),
        {"client": key.client_slug, "engagement": key.engagement_slug},
    ).one_or_none()
    if found is None:
        raise UnknownTenantError(f"no partition {str(key)!r}")
    return TenantScope(
        found.client_account_id, found.engagement_id, key.client_slug, key.engagement_slug
    )


def list_tokens(conn: Connection) -> list[dict]:
    """Every token, oldest first, without anything that could authenticate."""
    rows = conn.execute(text(_TOKEN_ROWS_SQL + " ORDER BY t.created_at, t.id")).all()
    return [_describe(row) for row in rows]


def _describe(row) -> dict:
    scope = _scope_of(row)
    return {
        "id": str(row.id),
        "name": row.name,
        "scope": str(scope) if scope is not None else f"{row.scope_kind}:<removed tenant>",
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


def revoke_token(conn: Connection, token_id: str) -> dict:
    """Revoke a token from its next request on; revoking twice keeps the first time."""
    try:
        parsed = uuid.UUID(token_id)
    except ValueError as error:
        raise TokenError(f"token id {token_id!r} is not a UUID") from error
    updated = conn.execute(
        text(
            "UPDATE migration.api_tokens SET revoked_at = coalesce(revoked_at, now())"
            " WHERE id = :id RETURNING id"
        ),
        {"id": parsed},
    ).scalar_one_or_none()
    if updated is None:
        raise TokenError(f"no token with id {token_id}")
    row = conn.execute(text(_TOKEN_ROWS_SQL + " WHERE t.id = :id"), {"id": parsed}).one()
    return _describe(row)
