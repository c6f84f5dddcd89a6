"""The tenant-scoped composite foreign keys on the wiring, added as the plan's phase 4 does.

Each key is (client_account_id, engagement_id, <link>) -> (client_account_id,
engagement_id, id) of the referenced table, so a link across tenants or engagements is
impossible by construction. MATCH SIMPLE (PostgreSQL's default): a NULL link skips the
check, which is what a missing link is; only a non-NULL link to nothing is refused.

A key is first added NOT VALID: from then on every new write is checked, while the legacy
rows are not read. `VALIDATE CONSTRAINT` then scans them; it only runs once no partition has
orphans left (`orphans_by_partition`), so it does not fail on the first of thousands. The
keys and their names come from the links of `domain/contract/`; migration 0007 renamed
the keys of earlier versions to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, text

from wiring_pipeline.domain.contract.links import LINKS, Link
from wiring_pipeline.domain.core.errors import RetryLaterError

State = Literal["absent", "not valid", "validated"]


@dataclass(frozen=True)
class TenantForeignKey:
    """The foreign key of one link of the contract, named `fk_<table>_<link>`."""

    link: Link

    @property
    def name(self) -> str:
        return self.link.foreign_key

    @property
    def table(self) -> str:
        return self.link.table.name

    @property
    def column(self) -> str:
        return self.link.column

    @property
    def referenced_table(self) -> str:
        return self.link.target.name

    def add_sql(self) -> str:
        return (
            f"ALTER TABLE migration.{self.table} ADD CONSTRAINT {self.name} "
            f"FOREIGN KEY (client_account_id, engagement_id, {self.column}) "
            f"REFERENCES migration.{self.referenced_table} (client_account_id, engagement_id, id) "
            "MATCH SIMPLE NOT VALID"
        )

    def orphans_sql(self) -> str:
        """Per tenant and engagement, the rows whose link names no row of their own partition."""
        return f"""
            SELECT t.client_account_id, t.engagement_id, count(*) AS orphans
            FROM migration.{self.table} t
            WHERE t.{self.column} IS NOT NULL
              AND NOT EXISTS (
                  SELECT 1 FROM migration.{self.referenced_table} r
                  WHERE r.client_account_id = t.client_account_id
                    AND r.engagement_id = t.engagement_id
                    AND r.id = t.{self.column})
            GROUP BY t.client_account_id, t.engagement_id"""


FOREIGN_KEYS: tuple[TenantForeignKey, ...] = tuple(TenantForeignKey(link) for link in LINKS)
FOREIGN_KEYS_BY_NAME = {fk.name: fk for fk in FOREIGN_KEYS}


class OrphansRemainError(RetryLaterError):
    """Validation was asked for while some partitions still have orphan links."""

    def __init__(self, orphans: dict[str, dict[str, int]]) -> None:
        self.orphans = orphans
        listed = "; ".join(
            f"{key}: " + ", ".join(f"{n} {name}" for name, n in counts.items())
            for key, counts in orphans.items()
        )
        super().__init__(
            f"not validating the foreign keys: {len(orphans)} partition(s) have orphan links "
            f"({listed}); run `wiring-pipeline backfill --partition KEY --execute` on them first"
        )


def constraint_states(conn: Connection) -> dict[str, State]:
    """Each key's state as PostgreSQL records it in pg_constraint."""
    rows = conn.execute(
        text(
            """
            SELECT c.conname, c.convalidated
            FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
            WHERE n.nspname = 'migration' AND c.contype = 'f' AND c.conname = ANY(:names)
            """
        ),
        {"names": list(FOREIGN_KEYS_BY_NAME)},
    ).all()
    found = {row.conname: ("validated" if row.convalidated else "not valid") for row in rows}
    return {fk.name: found.get(fk.name, "absent") for fk in FOREIGN_KEYS}


def add_foreign_key(conn: Connection, fk: TenantForeignKey) -> bool:
    """Add the key NOT VALID unless it exists; True when this call added it.

    ALTER TABLE briefly takes a SHARE ROW EXCLUSIVE lock on both tables, so the caller
    bounds the wait with a short lock_timeout and retries, rather than queueing writers.
    """
    if constraint_states(conn)[fk.name] != "absent":
        return False
    conn.execute(text(fk.add_sql()))
    return True


def orphans_by_partition(conn: Connection) -> dict[str, dict[str, int]]:
    """Partition key -> orphan rows per foreign key, for every partition that has any.

    A cross-partition check by nature: each anti-join matches on both tenant columns of the
    row itself. Rows whose engagement is unknown are keyed `<client id>/<engagement id>`.
    """
    orphans: dict[str, dict[str, int]] = {}
    for fk in FOREIGN_KEYS:
        rows = conn.execute(
            text(
                f"""
                SELECT coalesce(c.slug || '.' || e.slug,
                                o.client_account_id || '/' || o.engagement_id) AS partition_key,
                       o.orphans
                FROM ({fk.orphans_sql()}) AS o
                LEFT JOIN migration.client_accounts c ON c.id = o.client_account_id
                LEFT JOIN migration.engagements e
                  ON e.id = o.engagement_id AND e.client_account_id = o.client_account_id
                """
            )
        ).all()
        for row in rows:
            orphans.setdefault(row.partition_key, {})[fk.name] = int(row.orphans)
    return dict(sorted(orphans.items()))


def validate_foreign_key(conn: Connection, fk: TenantForeignKey) -> None:
    """Scan the existing rows once; holds SHARE UPDATE EXCLUSIVE, so writes go on meanwhile."""
    conn.execute(text(f"ALTER TABLE migration.{fk.table} VALIDATE CONSTRAINT {fk.name}"))


def drop_foreign_keys(conn: Connection) -> list[str]:
    """Remove the keys (those present); returns the dropped names.

    For going back to the legacy state on purpose: the demo's reset, which re-seeds rows
    the keys would refuse, and tests. Migration 0002's downgrade does the same.
    """
    present = [name for name, state in constraint_states(conn).items() if state != "absent"]
    for name in present:
        fk = FOREIGN_KEYS_BY_NAME[name]
        conn.execute(text(f"ALTER TABLE migration.{fk.table} DROP CONSTRAINT {fk.name}"))
    return present
