"""The source plan's inventory step as it was written, kept only to be measured against.

Phase 1 of the plan creates one ORM object per inventory asset, `session.add`s each,
flushes, then `refresh`es every asset (one SELECT per asset) to read back what the database
generated, and finally links the raw records, each with its cleansed summary (DESIGN 1),
with one executemany UPDATE of bound parameters. It ends with the same assets and links as
the pipeline; the difference is that every asset costs round trips and Python objects, which
is what the benchmark puts a number on.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import Connection, bindparam, text, update
from sqlalchemy.orm import DeclarativeBase, Session

from wiring_pipeline.domain.contract.fields import INVENTORY_FIELDS
from wiring_pipeline.domain.contract.states import OPEN_RECORD_SQL, REJECTED_PREFIX
from wiring_pipeline.domain.core.schema import assets, raw_import_records
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter
from wiring_pipeline.domain.inventory.build import field_mappings_hash
from wiring_pipeline.domain.inventory.writes import SUMMARY_SQL


class _Base(DeclarativeBase):
    pass


class InventoryAsset(_Base):
    """`migration.assets` as an ORM class, as the plan's `Asset` model is."""

    __table__ = assets


_CONVERT = {"integer": int, "number": Decimal}

#: The records the cleansing judged, each with the summary its raw record gets.
_OPEN_JUDGED = text(
    f"""
    SELECT r.id, r.raw_data, c.cleansed_values::text AS cleansed_values, c.identity_key,
           c.verdict, {SUMMARY_SQL} AS summary
    FROM migration.raw_import_records r
    JOIN migration.cleansed_record_archive c
      ON {tenant_filter("c")}
     AND c.raw_import_record_id = r.id
    WHERE {OPEN_RECORD_SQL}
    ORDER BY r.row_number
    """
)


def build_inventory(conn: Connection, scope: TenantScope) -> int:
    """Create and link the partition's assets one ORM object at a time; returns how many."""
    flow = conn.execute(
        text(
            "SELECT id, flow_id, master_flow_id, field_mappings, field_mappings_version_id"
            " FROM migration.discovery_flows"
            f" WHERE {tenant_filter()}"
        ),
        scope.as_params(),
    ).one()
    mappings = dict(flow.field_mappings)
    mappings_hash = field_mappings_hash(flow.flow_id, mappings)
    session = Session(bind=conn)
    created = []
    summaries = {}
    now = datetime.now(timezone.utc)  # the plan's model sets its timestamps in Python
    rejected = []  # linked to nothing, marked with their reason
    for record in conn.execute(_OPEN_JUDGED, scope.as_params()):
        if record.verdict is not None:
            rejected.append(
                {
                    "rid": record.id,
                    "aid": None,
                    "notes": f"{REJECTED_PREFIX}{record.verdict}",
                    "summary": record.summary,
                }
            )
            continue
        values = json.loads(record.cleansed_values, parse_float=Decimal)
        asset = InventoryAsset(
            client_account_id=scope.client_account_id,
            engagement_id=scope.engagement_id,
            **{
                name: _CONVERT.get(kind, str)(values[name]) if name in values else None
                for name, kind in INVENTORY_FIELDS.items()
            },
            identity_key=record.identity_key,
            discovery_flow_id=flow.id,
            master_flow_id=flow.master_flow_id,
            raw_import_records_id=record.id,
            field_mappings_used=mappings_hash,
            source_phase="inventory",
            current_phase="inventory",
            discovery_method="flow_based",
            discovery_source="Discovery Flow",
            discovery_timestamp=now,
            created_at=now,
            updated_at=now,
            custom_attributes={
                "unmapped_columns": {
                    column: cell
                    for column, cell in record.raw_data.items()
                    if column not in mappings
                },
                "field_mappings_version": str(flow.field_mappings_version_id),
                "discovered_in_phase": "inventory",
            },
        )
        session.add(asset)
        created.append(asset)
        summaries[record.id] = record.summary
    session.flush()
    for asset in created:
        session.refresh(asset)
    if created or rejected:
        session.execute(
            update(raw_import_records)
            .where(
                *scope.where(raw_import_records),
                raw_import_records.c.id == bindparam("rid"),
            )
            .values(
                asset_id=bindparam("aid"),
                is_processed=True,
                processed_at=now,
                processing_notes=bindparam("notes"),
                cleansed_data=bindparam("summary"),
            ),
            [
                {
                    "rid": a.raw_import_records_id,
                    "aid": a.id,
                    "notes": f"Linked to: {a.name}",
                    "summary": summaries[a.raw_import_records_id],
                }
                for a in created
            ]
            + rejected,
        )
    session.expunge_all()
    return len(created)
