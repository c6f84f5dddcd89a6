"""Inventory assets from cleansed records, and the links back, in the caller's transaction.

This is the step the source plan got wrong: the assets were created in a second session,
so the links written in the first never saw them. Here both halves run on the one
connection the caller owns, as set-based statements (`writes.py`):

1. `write_inventory_assets` applies each open import of the partition, oldest first: the
   records whose identity key matches an asset of their flow update it in place (history
   kept), the others create assets, and a full export retires the assets it no longer has;
   what it did is noted in a transaction-local table, emptied as each build starts;
2. `link_raw_records` points each of those records at its asset (UPDATE … FROM), or marks
   it rejected when the cleansing rejected it, writing its cleansed summary in the same
   UPDATE (the record's one write after its load, DESIGN 1), and marks the records they
   replaced as superseded.

They are separate functions so that a failure between them can be staged; the caller's
transaction makes the pair all-or-nothing. `build_inventory` runs both and refuses to
finish with a half-linked partition.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from wiring_pipeline.domain.contract.metrics import HELD_RETIREMENT_SQL
from wiring_pipeline.domain.contract.states import (
    OPEN_RECORD_SQL,
    REJECTED_PREFIX,
    UNCLEANSED_SQL,
)
from wiring_pipeline.domain.core.statistics import refresh_after_bulk_write
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter
from wiring_pipeline.domain.inventory import reconcile, writes

PREVIEW_ROWS = 5
SAMPLE_LIMIT = 5
#: The columns of the created assets shown in a run's preview.
PREVIEW_COLUMNS = (
    "name",
    "asset_type",
    "environment",
    "hostname",
    "ip_address",
    "cpu_cores",
    "memory_gb",
)


class InventoryLinkError(RuntimeError):
    """The links written do not match the assets written: the transaction must not commit."""


@dataclass(frozen=True)
class InventoryResult:
    #: Assets per change kind (`writes.CHANGE_KINDS`) in this run.
    changes: dict[str, int]
    linked: int
    #: Previous records that a new record replaced as their asset's current one.
    superseded: int
    #: Records of an import older than their flow's latest, linked to their asset as history.
    late_records: int
    #: Records of the partition that cleansing rejected (they have no asset, by design).
    rejected: int
    #: Of them, the records this run marked rejected (with their summary and reason).
    rejected_now: int
    #: Open records some legacy asset already names: left for the backfill to link.
    skipped_legacy_linked: int
    #: Open records not cleansed yet (their import has no flow with mappings).
    skipped_uncleansed: int
    by_type: dict[str, int]
    by_environment: dict[str, int]
    preview: list[dict]
    #: Up to SAMPLE_LIMIT assets per change kind: id, name, and the fields that changed.
    samples: dict[str, list[dict]] = field(default_factory=dict)
    #: Full exports holding their retirements for a person (DESIGN 3f): id, file, how many.
    held_retirements: list[dict] = field(default_factory=list)

    @property
    def created(self) -> int:
        return self.changes["created"]

    def report(self) -> dict:
        """The run's changes as JSON: counts and samples per kind (DESIGN 3a)."""
        return {
            **self.changes,
            "superseded": self.superseded,
            "late_records": self.late_records,
            "samples": self.samples,
            "retirements_held": self.held_retirements,
        }


def changes_line(changes: dict[str, int]) -> str:
    """`3 created, 2 matched, 5 updated, 12 unchanged, 3 retired, 0 revived`."""
    return ", ".join(f"{count} {kind}" for kind, count in changes.items())


def field_mappings_hash(flow_id: object, mappings: dict) -> str:
    """SHA-256 of the canonical JSON of a flow's mappings: equal mappings, equal hash.

    The flow id is part of the payload (as a string), so two flows never share a hash.
    """
    payload = json.dumps(
        {"flow_id": str(flow_id), "mappings": mappings}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _flow_params(conn: Connection, scope: TenantScope) -> dict:
    """Per flow row id of the partition, the values its assets are written with."""
    flows = conn.execute(
        text(
            f"""
            SELECT id, flow_id, master_flow_id, field_mappings, field_mappings_version_id
            FROM migration.discovery_flows
            WHERE {tenant_filter()}
            """
        ),
        scope.as_params(),
    ).all()
    return {
        flow.id: {
            "flow_row_id": flow.id,
            "master_flow_id": flow.master_flow_id,
            "mappings_hash": field_mappings_hash(flow.flow_id, dict(flow.field_mappings or {})),
            "mapped_sources": list(flow.field_mappings or {}),
            "version_id": (
                str(flow.field_mappings_version_id) if flow.field_mappings_version_id else None
            ),
        }
        for flow in flows
    }


def write_inventory_assets(conn: Connection, scope: TenantScope) -> dict[str, int]:
    """Apply every open import of the partition to its flow's assets; counts per change,
    and of the records the cleansing rejected (`writes.REJECTED`), noted for the link.

    A concurrent run that got there first makes the insert skip the record (the unique
    indexes on the raw record link and on the flow's identity key), so two runs can never
    make two assets of one record or of one server.
    """
    for statement in writes.START_BUILD:
        conn.execute(text(statement))
    flows = _flow_params(conn, scope)
    imports = conn.execute(text(writes.OPEN_IMPORTS_SQL), scope.as_params()).all()
    for data_import in imports:
        params = {
            **scope.as_params(),
            **flows[data_import.discovery_flow_id],
            "data_import_id": data_import.id,
            "is_latest": data_import.is_latest,
        }
        conn.execute(text(f"TRUNCATE {writes.INCOMING}, {writes.DERIVE}, {writes.CANDIDATES}"))
        # About as many source rows are written or moved as the import has open records; a
        # large import then plans its retirement, matching and derivation without nested
        # loops (an index probe per record, and CTEs estimated at one row).
        refresh_after_bulk_write(conn, "asset_sources", data_import.open_records)
        # Retiring first is the same as retiring last (the assets this import creates or
        # updates all have a key it has) and it looks only at the source rows there were.
        if data_import.is_latest and not data_import.is_partial:
            _retire(conn, params, confirmed=data_import.retirement_confirmed)
        conn.execute(text(writes.MATCH_SQL), params)
        conn.execute(text(f"ANALYZE {writes.INCOMING}"))
        if conn.execute(text(reconcile.OTHER_SOURCES_SQL), params).scalar():
            conn.execute(text(reconcile.RECONCILE_SQL), params)
        conn.execute(text(writes.UPDATE_SQL), params)
        conn.execute(text(writes.HISTORY_SQL), params)
        created = conn.execute(text(writes.CREATE_SQL), params).rowcount
        conn.execute(text(reconcile.SOURCES_SQL), params)
        conn.execute(text(reconcile.CANDIDATES_SQL), params)
        conn.execute(text(reconcile.DERIVE_SQL), params)
        refresh_after_bulk_write(conn, "assets", created)
    # Held retirements a person has confirmed since their import was applied.
    for confirmed in conn.execute(
        text(reconcile.CONFIRMED_RETIREMENTS_SQL), scope.as_params()
    ).all():
        params = {
            **scope.as_params(),
            **flows[confirmed.discovery_flow_id],
            "data_import_id": confirmed.id,
            "is_latest": True,
        }
        conn.execute(text(f"TRUNCATE {writes.INCOMING}, {writes.DERIVE}, {writes.CANDIDATES}"))
        _retire(conn, params, confirmed=True)
        conn.execute(text(reconcile.DERIVE_SQL), params)
    counts = dict.fromkeys((*writes.CHANGE_KINDS, writes.HISTORY, writes.REJECTED), 0)
    counts.update(
        conn.execute(text(f"SELECT change, count(*) FROM {writes.CHANGES} GROUP BY change")).all()
    )
    return counts


def _retire(conn: Connection, params: dict, *, confirmed: bool) -> None:
    """Retire what a full export no longer has, unless that is much of its flow's estate
    and nobody confirmed it: then the import holds the retirements (DESIGN 3f)."""
    conn.execute(text(f"TRUNCATE {writes.GONE}"))
    would_retire = conn.execute(text(reconcile.GONE_SQL), params).rowcount
    if not confirmed and reconcile.retirement_held(
        would_retire, conn.execute(text(reconcile.CURRENT_SOURCES_SQL), params).scalar()
    ):
        conn.execute(text(reconcile.HOLD_RETIREMENT_SQL), {**params, "held": would_retire})
        return
    conn.execute(text(reconcile.RETIRE_SQL), params)
    if confirmed:
        conn.execute(text(reconcile.HOLD_RETIREMENT_SQL), {**params, "held": 0})


def rederive_assets(conn: Connection, scope: TenantScope, asset_ids: list | None = None) -> int:
    """Derive assets again from their current sources' stored cleansed values, reading no
    file: after a precedence change or a removed flow (every asset ever derived from several
    sources: those with `field_sources`), or after a merge or split (`asset_ids`). Returns
    how many assets were derived."""
    for statement in writes.START_BUILD:
        conn.execute(text(statement))
    if asset_ids is None:
        conn.execute(
            text(
                f"""
                INSERT INTO {writes.DERIVE} (asset_id)
                SELECT a.id FROM migration.assets a
                WHERE {tenant_filter("a")} AND a.field_sources IS NOT NULL
                """
            ),
            scope.as_params(),
        )
    else:
        conn.execute(
            text(f"INSERT INTO {writes.DERIVE} (asset_id) SELECT unnest(CAST(:ids AS uuid[]))"),
            {"ids": [str(asset_id) for asset_id in asset_ids]},
        )
    derived = conn.execute(text(f"SELECT count(DISTINCT asset_id) FROM {writes.DERIVE}")).scalar()
    conn.execute(
        text(reconcile.DERIVE_SQL),
        {**scope.as_params(), "data_import_id": None, "is_latest": False},
    )
    return derived


def link_raw_records(conn: Connection, scope: TenantScope) -> tuple[int, int, int]:
    """Point every record this transaction applied at its asset, mark the rejected ones,
    each with its summary; supersede the ones replaced.

    Returns (records linked, records rejected, records superseded).
    """
    linked, rejected = conn.execute(text(writes.LINK_SQL), scope.as_params()).one()
    superseded = conn.execute(text(writes.SUPERSEDE_SQL), scope.as_params()).rowcount
    return linked, rejected, superseded


def build_inventory(conn: Connection, scope: TenantScope) -> InventoryResult:
    """Apply the partition's open imports to the inventory and link their records, or fail whole."""
    changes = write_inventory_assets(conn, scope)
    linked, rejected, superseded = link_raw_records(conn, scope)
    expected = sum(changes[kind] for kind in writes.LINKED_KINDS)
    if (linked, rejected) != (expected, changes[writes.REJECTED]):
        raise InventoryLinkError(
            f"partition {scope.partition_key!r}: wrote {expected} assets and noted "
            f"{changes[writes.REJECTED]} rejected records but linked {linked} raw records "
            f"and marked {rejected} rejected; rolling back"
        )
    late = changes.pop(writes.HISTORY)
    changes.pop(writes.REJECTED)
    return _summarise(conn, scope, changes, linked, rejected, superseded, late)


def _summarise(
    conn: Connection,
    scope: TenantScope,
    changes: dict[str, int],
    linked: int,
    rejected_now: int,
    superseded: int,
    late: int,
) -> InventoryResult:
    counts = conn.execute(
        text(
            f"""
            SELECT
              (SELECT count(*) FROM migration.raw_import_records r
               WHERE {tenant_filter("r")}
                 AND r.is_processed AND r.asset_id IS NULL
                 AND r.processing_notes LIKE '{REJECTED_PREFIX}%') AS rejected,
              (SELECT count(*) FROM migration.raw_import_records r
               WHERE {tenant_filter("r")}
                 AND NOT r.is_processed AND r.asset_id IS NULL
                 AND EXISTS (
                   SELECT 1 FROM migration.assets a
                   WHERE {tenant_filter("a")}
                     AND a.raw_import_records_id = r.id)) AS skipped_legacy_linked,
              (SELECT count(*) FROM migration.raw_import_records r
               WHERE {OPEN_RECORD_SQL} AND {UNCLEANSED_SQL}) AS skipped_uncleansed
            """
        ),
        scope.as_params(),
    ).one()
    by_type = dict(
        conn.execute(
            text(
                f"SELECT coalesce(asset_type, '(none)'), count(*) FROM {writes.CHANGES}"
                " WHERE change = 'created' GROUP BY 1 ORDER BY 2 DESC, 1"
            )
        ).all()
    )
    by_environment = dict(
        conn.execute(
            text(
                f"SELECT coalesce(environment, '(none)'), count(*) FROM {writes.CHANGES}"
                " WHERE change = 'created' GROUP BY 1 ORDER BY 2 DESC, 1"
            )
        ).all()
    )
    preview = [
        dict(row._mapping)
        for row in conn.execute(
            text(
                f"""
                SELECT {", ".join(f"a.{column}" for column in PREVIEW_COLUMNS)}
                FROM (SELECT n.asset_id, n.name FROM {writes.CHANGES} n
                      WHERE n.change = 'created'
                      ORDER BY n.name, n.asset_id LIMIT {PREVIEW_ROWS}) AS n
                JOIN migration.assets a
                  ON {tenant_filter("a")} AND a.id = n.asset_id
                ORDER BY n.name, n.asset_id
                """
            ),
            scope.as_params(),
        )
    ]
    return InventoryResult(
        changes=changes,
        linked=linked,
        superseded=superseded,
        late_records=late,
        rejected=counts.rejected,
        rejected_now=rejected_now,
        skipped_legacy_linked=counts.skipped_legacy_linked,
        skipped_uncleansed=counts.skipped_uncleansed,
        by_type=by_type,
        by_environment=by_environment,
        preview=preview,
        samples=_samples(conn, scope),
        held_retirements=[
            {"import_id": str(row.id), "filename": row.filename, "would_retire": row.held}
            for row in conn.execute(
                text(
                    "SELECT t.id, t.filename, t.retirement_held AS held"
                    f" FROM migration.data_imports t WHERE {tenant_filter('t')}"
                    f" AND {HELD_RETIREMENT_SQL} ORDER BY t.created_at, t.id"
                ),
                scope.as_params(),
            )
        ],
    )


def _samples(conn: Connection, scope: TenantScope) -> dict[str, list[dict]]:
    """Up to SAMPLE_LIMIT assets per change kind, with each changed field's old and new value."""
    rows = conn.execute(
        text(
            f"""
            SELECT n.change, n.asset_id, n.name,
                   (SELECT jsonb_object_agg(h.field_name, jsonb_build_object(
                               'old', h.old_value, 'new', h.new_value))
                    FROM migration.asset_history h
                    WHERE {tenant_filter("h")} AND h.asset_id = n.asset_id
                      AND h.data_import_id = n.data_import_id
                      AND h.change = n.change) AS fields
            FROM unnest(CAST(:kinds AS text[])) WITH ORDINALITY AS k(change, position)
            CROSS JOIN LATERAL (
                SELECT * FROM {writes.CHANGES} c WHERE c.change = k.change
                ORDER BY c.name, c.asset_id LIMIT {SAMPLE_LIMIT}) AS n
            ORDER BY k.position, n.name, n.asset_id
            """
        ),
        {**scope.as_params(), "kinds": sorted((*writes.CHANGE_KINDS, writes.HISTORY))},
    ).all()
    samples: dict[str, list[dict]] = {}
    for row in rows:
        sample = {"id": str(row.asset_id), "name": row.name}
        if row.fields:
            sample["changes"] = row.fields
        samples.setdefault(row.change, []).append(sample)
    return samples
