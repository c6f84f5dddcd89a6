"""Tenant scope as a value: the partition key, parsed, validated and resolved to ids.

A partition of the pipeline is one engagement of one client account, keyed
`<client_slug>.<engagement_slug>`. Every query of a partition filters on the two ids of
the `TenantScope` resolved here, never on a string spliced into SQL.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Table, func, select

from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.core.schema import client_accounts, engagements

SLUG_PATTERN = re.compile(r"[a-z0-9-]{1,63}")


class TenancyError(UserInputError):
    """A partition key or tenant reference the pipeline cannot act on."""


class PartitionKeyError(TenancyError):
    """The key is not of the form `<client_slug>.<engagement_slug>`."""


class UnknownTenantError(TenancyError):
    """The key is well formed but names no client account, or no engagement of that client."""


@dataclass(frozen=True)
class PartitionKey:
    client_slug: str
    engagement_slug: str

    def __str__(self) -> str:
        return f"{self.client_slug}.{self.engagement_slug}"


@dataclass(frozen=True)
class TenantScope:
    """The resolved tenant and engagement of one partition."""

    client_account_id: uuid.UUID
    engagement_id: uuid.UUID
    client_slug: str
    engagement_slug: str

    @property
    def partition_key(self) -> str:
        return f"{self.client_slug}.{self.engagement_slug}"

    def as_params(self, prefix: str = "") -> dict[str, uuid.UUID]:
        """Bind parameters for `tenant_filter(…, prefix)`: `:client_account_id` and
        `:engagement_id`, each name led by `prefix` (two partitions in one statement)."""
        return {
            f"{prefix}client_account_id": self.client_account_id,
            f"{prefix}engagement_id": self.engagement_id,
        }

    def where(self, table: Table) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        """The partition filter of a SQLAlchemy Core statement on `table`."""
        return (
            table.c.client_account_id == self.client_account_id,
            table.c.engagement_id == self.engagement_id,
        )

    def as_json(self) -> dict[str, str]:
        return {
            "client_account_id": str(self.client_account_id),
            "engagement_id": str(self.engagement_id),
            "client_slug": self.client_slug,
            "engagement_slug": self.engagement_slug,
            "partition_key": self.partition_key,
        }


def tenant_filter(alias: str | None = None, prefix: str = "") -> str:
    """The partition filter of textual SQL: both tenant columns of `alias`, as bind parameters.

    Bound by `TenantScope.as_params(prefix)`; the one spelling of the rule that every query
    of a partition filters on both tenant columns.
    """
    column = f"{alias}." if alias else ""
    return (
        f"{column}client_account_id = :{prefix}client_account_id"
        f" AND {column}engagement_id = :{prefix}engagement_id"
    )


def parse_partition_key(key: str) -> PartitionKey:
    """Split and validate a key; every error names the key and what is wrong with it."""
    if not isinstance(key, str) or not key:
        raise PartitionKeyError("partition key is empty: expected <client_slug>.<engagement_slug>")
    parts = key.split(".")
    if len(parts) != 2:
        raise PartitionKeyError(
            f"partition key {key!r} is malformed: expected <client_slug>.<engagement_slug> "
            f"with exactly one '.', found {len(parts) - 1}"
        )
    client_slug, engagement_slug = parts
    for slug, what in ((client_slug, "client"), (engagement_slug, "engagement")):
        if not SLUG_PATTERN.fullmatch(slug):
            raise PartitionKeyError(
                f"partition key {key!r} is malformed: {what} slug {slug!r} must be 1-63 "
                "characters of a-z, 0-9 and '-'"
            )
    return PartitionKey(client_slug, engagement_slug)


def resolve_scope(conn: Connection, key: str) -> TenantScope:
    """Resolve a partition key to its tenant ids, or say precisely why it cannot be."""
    parsed = parse_partition_key(key)
    client_id = conn.execute(
        select(client_accounts.c.id).where(client_accounts.c.slug == parsed.client_slug)
    ).scalar_one_or_none()
    if client_id is None:
        raise UnknownTenantError(
            f"partition key {key!r}: no client account with slug {parsed.client_slug!r}"
        )
    engagement = conn.execute(
        select(engagements.c.id, engagements.c.client_account_id).where(
            engagements.c.slug == parsed.engagement_slug,
            engagements.c.client_account_id == client_id,
        )
    ).one_or_none()
    if engagement is None:
        elsewhere = conn.execute(
            select(client_accounts.c.slug)
            .join(engagements, engagements.c.client_account_id == client_accounts.c.id)
            .where(engagements.c.slug == parsed.engagement_slug)
            .limit(1)
        ).scalar_one_or_none()
        hint = (
            " (an engagement with that slug belongs to another client account)"
            if elsewhere is not None
            else ""
        )
        raise UnknownTenantError(
            f"partition key {key!r}: client {parsed.client_slug!r} has no engagement "
            f"{parsed.engagement_slug!r}{hint}"
        )
    return TenantScope(client_id, engagement.id, parsed.client_slug, parsed.engagement_slug)


def list_partition_scopes(conn: Connection) -> list[TenantScope]:
    """Every engagement whose slugs make a valid partition key, resolved, in key order.

    One query for the whole instance: fleet-wide work (the nightly pass, `health --all`,
    the onboarding sensor) must not resolve thousands of keys one round trip each.
    """
    rows = conn.execute(
        select(
            client_accounts.c.id,
            engagements.c.id,
            client_accounts.c.slug,
            engagements.c.slug,
        ).join(engagements, engagements.c.client_account_id == client_accounts.c.id)
    ).all()
    scopes = [TenantScope(*row) for row in rows]
    return sorted(
        (scope for scope in scopes if is_valid_partition_key(scope.partition_key)),
        key=lambda scope: scope.partition_key,
    )


def list_partition_keys(conn: Connection) -> list[str]:
    """Every engagement whose slugs make a valid partition key, in key order."""
    return [scope.partition_key for scope in list_partition_scopes(conn)]


def is_valid_partition_key(key: str) -> bool:
    """Whether `key` parses; for listings that skip engagements no partition can carry."""
    try:
        parse_partition_key(key)
    except PartitionKeyError:
        return False
    return True


def count_rows(conn: Connection, scope: TenantScope, table: Table) -> int:
    """The partition's rows in `table` (an index-only scan of its tenant-leading key)."""
    return conn.execute(
        select(func.count()).select_from(table).where(*scope.where(table))
    ).scalar_one()
