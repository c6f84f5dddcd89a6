"""What an inventory asset looked like after a given import (DESIGN 3a).

A re-import updates assets in place, so the current row alone cannot say what a server was
in week 1. `asset_history` holds every field a re-import changed, with the old and new value
and the import that changed it: the value after import X is the old value of the first
change made by a later import, or the current value when no later import changed it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, text

from wiring_pipeline.domain.contract.fields import INVENTORY_FIELDS
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter

_FIELDS = (*INVENTORY_FIELDS, "current_phase")


class AssetHistoryError(ValueError):
    """The asset or the import is not one of the partition."""


def asset_changes(conn: Connection, scope: TenantScope, asset_id: uuid.UUID) -> list[dict]:
    """Every recorded change of one asset, oldest first."""
    rows = conn.execute(
        text(
            f"""
            SELECT h.data_import_id, d.filename, h.change, h.field_name, h.old_value,
                   h.new_value, h.changed_at
            FROM migration.asset_history h
            LEFT JOIN migration.data_imports d
              ON {tenant_filter("d")} AND d.id = h.data_import_id
            WHERE {tenant_filter("h")} AND h.asset_id = :asset_id
            ORDER BY h.id
            """
        ),
        {**scope.as_params(), "asset_id": asset_id},
    ).all()
    return [dict(row._mapping) for row in rows]


def asset_as_of(
    conn: Connection, scope: TenantScope, asset_id: uuid.UUID, data_import_id: uuid.UUID
) -> dict:
    """The asset's inventory fields (and phase) as they were right after `data_import_id`."""
    columns = ", ".join(f"to_jsonb(a.{name}) AS {name}" for name in _FIELDS)
    current = conn.execute(
        text(
            f"""
            SELECT {columns} FROM migration.assets a
            WHERE {tenant_filter("a")} AND a.id = :asset_id
            """
        ),
        {**scope.as_params(), "asset_id": asset_id},
    ).one_or_none()
    if current is None:
        raise AssetHistoryError(f"partition {scope.partition_key!r} has no asset {asset_id}")
    later = conn.execute(
        text(
            f"""
            WITH this AS (
                SELECT created_at, id FROM migration.data_imports
                WHERE {tenant_filter()} AND id = :data_import_id
            )
            SELECT (SELECT count(*) FROM this) AS found, field_name, old_value FROM (
                SELECT DISTINCT ON (h.field_name) h.field_name, h.old_value
                FROM migration.asset_history h
                JOIN migration.data_imports d
                  ON {tenant_filter("d")} AND d.id = h.data_import_id
                WHERE {tenant_filter("h")} AND h.asset_id = :asset_id
                  AND (d.created_at, d.id) > (SELECT created_at, id FROM this)
                ORDER BY h.field_name, h.id
            ) AS first_later_change
            RIGHT JOIN (SELECT 1) AS one ON true
            """
        ),
        {**scope.as_params(), "asset_id": asset_id, "data_import_id": data_import_id},
    ).all()
    if not later[0].found:
        raise AssetHistoryError(f"partition {scope.partition_key!r} has no import {data_import_id}")
    values = dict(current._mapping)
    values.update({row.field_name: row.old_value for row in later if row.field_name})
    return values
