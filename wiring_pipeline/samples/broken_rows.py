"""Hand-written asset and raw-record rows of one partition: the broken legacy data of the
demo and of the tests' defect and legacy worlds, built by one builder.

Rows are collected in memory and inserted in two executemany statements. Every row carries
the same keys, because SQLAlchemy takes an executemany's columns from the first row and
silently drops any key a later row adds; an unknown override is an error for that reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, insert, null, text

from wiring_pipeline.domain.core.schema import assets, data_imports, raw_import_records
from wiring_pipeline.domain.core.tenancy import TenantScope
from wiring_pipeline.domain.ingest.flows import add_flow
from wiring_pipeline.domain.ingest.registry import add_tenant
from wiring_pipeline.samples.cmdb_generator import CMDB_FIELD_MAPPINGS


@dataclass
class PartitionRows:
    scope: TenantScope
    #: Flow name -> discovery flow row; new assets link to the "main" flow.
    flows: dict[str, dict]
    data_import_id: uuid.UUID
    #: Overrides of the asset defaults for every asset of the partition.
    asset_defaults: dict = field(default_factory=dict)
    assets: list[dict] = field(default_factory=list)
    raws: list[dict] = field(default_factory=list)
    #: (asset id, raw record id) of every pair made by `pair`.
    pairs: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
    #: Source rows for the raw records' `raw_data`; unset, each gets a one-cell row.
    raw_source: Iterator[dict] | None = None
    #: What a processed raw record carries as cleansed summary and processing note.
    processed_summary: dict | None = field(
        default_factory=lambda: {"status": "cleansed", "field_count": 3}
    )
    processed_note: str = "Linked to: fixture"

    @property
    def flow(self) -> dict:
        return self.flows["main"]

    @property
    def linked_asset_ids(self) -> list[uuid.UUID]:
        return [asset_id for asset_id, _ in self.pairs]

    @property
    def linked_raw_ids(self) -> list[uuid.UUID]:
        return [raw_id for _, raw_id in self.pairs]

    def asset(self, name: str, **values) -> uuid.UUID:
        row = {
            "id": uuid.uuid4(),
            **self.scope.as_params(),
            "name": name,
            "asset_type": "Server",
            "discovery_method": "flow_based",
            "discovery_source": "Discovery Flow",
            "custom_attributes": {},
            "flow_id": None,
            "discovery_flow_id": self.flow["id"],
            "master_flow_id": self.flow["master_flow_id"],
            "raw_import_records_id": None,
            **self.asset_defaults,
        }
        self.assets.append(_override(row, values))
        return row["id"]

    def raw(self, processed: bool = True, **values) -> uuid.UUID:
        number = len(self.raws) + 1
        row = {
            "id": uuid.uuid4(),
            **self.scope.as_params(),
            "data_import_id": self.data_import_id,
            "row_number": number,
            "raw_data": (
                {"Hostname": f"host-{number}"} if self.raw_source is None else next(self.raw_source)
            ),
            "cleansed_data": self.processed_summary if processed else None,
            "is_processed": processed,
            "processed_at": None,
            "processing_notes": self.processed_note if processed else None,
            "asset_id": None,
            "superseded_by": None,
        }
        _override(row, values)
        if row["cleansed_data"] is None:
            # SQL NULL, as a record not cleansed yet has it: SQLAlchemy would store a Python
            # None in a JSONB column as the JSON value null, which cleansing skips.
            row["cleansed_data"] = null()
        self.raws.append(row)
        return row["id"]

    def pair(self, name: str) -> tuple[uuid.UUID, uuid.UUID]:
        """An asset and a processed raw record that name each other."""
        asset_id, raw_id = uuid.uuid4(), uuid.uuid4()
        self.asset(name, id=asset_id, raw_import_records_id=raw_id)
        self.raw(id=raw_id, asset_id=asset_id)
        self.pairs.append((asset_id, raw_id))
        return asset_id, raw_id

    def flush(self, conn: Connection) -> None:
        if self.assets:
            conn.execute(insert(assets), self.assets)
        if self.raws:
            conn.execute(insert(raw_import_records), self.raws)


def _override(row: dict, values: dict) -> dict:
    unknown = set(values) - set(row)
    if unknown:
        raise KeyError(f"no default for {sorted(unknown)}: add it so every row has the key")
    row.update(values)
    return row


def add_partition(
    conn: Connection,
    key: str,
    flow_ids: dict[str, uuid.UUID | None] | None = None,
    asset_defaults: dict | None = None,
) -> PartitionRows:
    """Register the tenant, its flows (legacy `flow_id` per flow name) and one loaded import."""
    scope, _ = add_tenant(conn, key)
    flows = {
        name: add_flow(conn, scope, CMDB_FIELD_MAPPINGS, flow_name=f"{key} {name}", flow_id=fid)
        for name, fid in (flow_ids or {"main": None}).items()
    }
    import_id = add_loaded_import(conn, scope, flows["main"], filename=f"{key}.csv")
    return PartitionRows(scope, flows, import_id, asset_defaults or {})


def add_loaded_import(conn: Connection, scope: TenantScope, flow: dict, **values) -> uuid.UUID:
    """A `loaded` import of the flow with no stored file: where legacy raw records come from.

    Legacy data predates every export the pipeline imports, so the import is dated a year
    back: a re-import applies exports in date order, and only the latest retires assets.
    """
    values = {"created_at": text("now() - interval '1 year'"), **values}
    return conn.execute(
        insert(data_imports)
        .values(**scope.as_params(), status="loaded", discovery_flow_id=flow["id"], **values)
        .returning(data_imports.c.id)
    ).scalar_one()
