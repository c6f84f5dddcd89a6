"""Inventory assets from cleansed records, and the links back, in the caller's transaction.

This is the step the source plan got wrong: the assets were created in a second session,
so the links written in the first never saw them. Here both halves run on the one
connection the caller owns, as two set-based statements:

1. `create_inventory_assets` inserts one asset per open cleansed record (INSERT … SELECT …
   RETURNING) and notes what it created in a transaction-local temporary table;
2. `link_raw_records` points each of those records at its asset (UPDATE … FROM).

They are separate functions so that a failure between them can be staged; the caller's
transaction makes the pair all-or-nothing. `build_inventory` runs both and refuses to
finish with a half-linked partition.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import Connection, text

from wiring_pipeline.domain.cleansing import (
    FLOW_RECORDS_SQL,
    OPEN_RECORD_SQL,
    REJECTED_PREFIX,
    UNLINKED_RECORD_SQL,
)
from wiring_pipeline.domain.fields import INVENTORY_FIELDS
from wiring_pipeline.domain.statistics import refresh_after_bulk_write
from wiring_pipeline.domain.tenancy import TenantScope

PHASE = "inventory"
DISCOVERY_METHOD = "flow_based"
DISCOVERY_SOURCE = "Discovery Flow"
PREVIEW_ROWS = 5

#: Transaction-local record of the assets this transaction created (dropped at commit).
_CREATED_TABLE = "pg_temp.inventory_created"
_CREATE_CREATED_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS inventory_created (asset_id uuid,"
    " raw_import_record_id uuid, name text, asset_type text, environment text) ON COMMIT DROP"
)
_CAST = {"integer": "integer", "number": "numeric"}
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
    """The links written do not match the assets created: the transaction must not commit."""


@dataclass(frozen=True)
class InventoryResult:
    created: int
    linked: int
    #: Records of the partition that cleansing rejected (they have no asset, by design).
    rejected: int
    #: Open records some legacy asset already names: left for the backfill to link.
    skipped_legacy_linked: int
    #: Open records with no cleansed summary yet (their import has no flow with mappings).
    skipped_uncleansed: int
    by_type: dict[str, int]
    by_environment: dict[str, int]
    preview: list[dict]


def field_mappings_hash(flow_id: object, mappings: dict) -> str:
    """SHA-256 of the canonical JSON of a flow's mappings: equal mappings, equal hash.

    The flow id is part of the payload (as a string), so two flows never share a hash.
    """
    payload = json.dumps(
        {"flow_id": str(flow_id), "mappings": mappings}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_ASSET_FIELDS = ", ".join(INVENTORY_FIELDS)
_ASSET_VALUES = ", ".join(
    f"(c.cleansed_values ->> '{name}')::{_CAST[kind]}"
    if kind in _CAST
    else f"c.cleansed_values ->> '{name}'"
    for name, kind in INVENTORY_FIELDS.items()
)

# The insert does not also anti-join `assets` for records a legacy asset already names
# (OPEN_RECORD_SQL): planned for a partition that has no assets yet, that probe scans
# every asset the statement itself has inserted so far, once per record, which is
# quadratic (a 100 000-record import ran for minutes). The ON CONFLICT on the
# one-asset-per-record unique index skips those records instead, with the same outcome.
_CREATE_SQL = f"""
WITH created AS (
    INSERT INTO migration.assets
        (client_account_id, engagement_id, {_ASSET_FIELDS},
         discovery_flow_id, master_flow_id, raw_import_records_id, field_mappings_used,
         source_phase, current_phase, discovery_method, discovery_source,
         discovery_timestamp, custom_attributes)
    SELECT :client_account_id, :engagement_id, {_ASSET_VALUES},
           :flow_row_id, :master_flow_id, r.id, :mappings_hash,
           '{PHASE}', '{PHASE}', '{DISCOVERY_METHOD}', '{DISCOVERY_SOURCE}',
           now(),
           jsonb_build_object(
               'unmapped_columns', r.raw_data - CAST(:mapped_sources AS text[]),
               'field_mappings_version', CAST(:version_id AS text),
               'discovered_in_phase', '{PHASE}')
    {FLOW_RECORDS_SQL}
    JOIN migration.cleansed_record_archive c
      ON c.client_account_id = :client_account_id AND c.engagement_id = :engagement_id
     AND c.raw_import_record_id = r.id
    WHERE {UNLINKED_RECORD_SQL} AND r.cleansed_data ->> 'status' = 'cleansed'
    ON CONFLICT (client_account_id, engagement_id, raw_import_records_id)
        WHERE raw_import_records_id IS NOT NULL DO NOTHING
    RETURNING id, raw_import_records_id, name, asset_type, environment
)
INSERT INTO {_CREATED_TABLE} SELECT * FROM created
"""


def create_inventory_assets(conn: Connection, scope: TenantScope) -> int:
    """Insert one asset per open cleansed record of the partition; returns how many.

    A concurrent run that got there first makes the insert skip the record (the unique
    index on the raw record link), so two runs can never make two assets of one record.
    """
    conn.execute(text(_CREATE_CREATED_TABLE))
    flows = conn.execute(
        text(
            """
            SELECT id, flow_id, master_flow_id, field_mappings, field_mappings_version_id
            FROM migration.discovery_flows
            WHERE client_account_id = :client_account_id AND engagement_id = :engagement_id
            ORDER BY created_at, id
            """
        ),
        scope.as_params(),
    ).all()
    created = 0
    for flow in flows:
        mappings = dict(flow.field_mappings or {})
        created += conn.execute(
            text(_CREATE_SQL),
            {
                **scope.as_params(),
                "flow_row_id": flow.id,
                "master_flow_id": flow.master_flow_id,
                "mappings_hash": field_mappings_hash(flow.flow_id, mappings),
                "mapped_sources": list(mappings),
                "version_id": (
                    str(flow.field_mappings_version_id) if flow.field_mappings_version_id else None
                ),
            },
        ).rowcount
    refresh_after_bulk_write(conn, "assets", created)
    return created


def link_raw_records(conn: Connection, scope: TenantScope) -> int:
    """Point every record that this transaction made an asset of at that asset."""
    return conn.execute(
        text(
            f"""
            UPDATE migration.raw_import_records r
            SET asset_id = n.asset_id, is_processed = true, processed_at = now(),
                processing_notes = 'Linked to: ' || n.name
            FROM {_CREATED_TABLE} n
            WHERE r.client_account_id = :client_account_id AND r.engagement_id = :engagement_id
              AND r.id = n.raw_import_record_id AND r.asset_id IS NULL
            """
        ),
        scope.as_params(),
    ).rowcount


def build_inventory(conn: Connection, scope: TenantScope) -> InventoryResult:
    """Create the partition's new assets and link their records, or fail whole."""
    created = create_inventory_assets(conn, scope)
    linked = link_raw_records(conn, scope)
    if linked != created:
        raise InventoryLinkError(
            f"partition {scope.partition_key!r}: created {created} assets but linked "
            f"{linked} raw records; rolling back"
        )
    return _summarise(conn, scope, created, linked)


def _summarise(conn: Connection, scope: TenantScope, created: int, linked: int) -> InventoryResult:
    counts = conn.execute(
        text(
            f"""
            SELECT
              (SELECT count(*) FROM migration.raw_import_records r
               WHERE r.client_account_id = :client_account_id
                 AND r.engagement_id = :engagement_id
                 AND r.is_processed AND r.asset_id IS NULL
                 AND r.processing_notes LIKE '{REJECTED_PREFIX}%') AS rejected,
              (SELECT count(*) FROM migration.raw_import_records r
               WHERE r.client_account_id = :client_account_id
                 AND r.engagement_id = :engagement_id
                 AND NOT r.is_processed AND r.asset_id IS NULL
                 AND EXISTS (
                   SELECT 1 FROM migration.assets a
                   WHERE a.client_account_id = :client_account_id
                     AND a.engagement_id = :engagement_id
                     AND a.raw_import_records_id = r.id)) AS skipped_legacy_linked,
              (SELECT count(*) FROM migration.raw_import_records r
               WHERE {OPEN_RECORD_SQL} AND r.cleansed_data IS NULL) AS skipped_uncleansed
            """
        ),
        scope.as_params(),
    ).one()
    by_type = dict(
        conn.execute(
            text(
                f"SELECT coalesce(asset_type, '(none)'), count(*) FROM {_CREATED_TABLE}"
                " GROUP BY 1 ORDER BY 2 DESC, 1"
            )
        ).all()
    )
    by_environment = dict(
        conn.execute(
            text(
                f"SELECT coalesce(environment, '(none)'), count(*) FROM {_CREATED_TABLE}"
                " GROUP BY 1 ORDER BY 2 DESC, 1"
            )
        ).all()
    )
    preview = [
        dict(row._mapping)
        for row in conn.execute(
            text(
                f"""
                SELECT {", ".join(f"a.{column}" for column in PREVIEW_COLUMNS)}
                FROM {_CREATED_TABLE} n
                JOIN migration.assets a
                  ON a.client_account_id = :client_account_id
                 AND a.engagement_id = :engagement_id AND a.id = n.asset_id
                ORDER BY a.name, a.id
                LIMIT {PREVIEW_ROWS}
                """
            ),
            scope.as_params(),
        )
    ]
    return InventoryResult(
        created=created,
        linked=linked,
        rejected=counts.rejected,
        skipped_legacy_linked=counts.skipped_legacy_linked,
        skipped_uncleansed=counts.skipped_uncleansed,
        by_type=by_type,
        by_environment=by_environment,
        preview=preview,
    )
