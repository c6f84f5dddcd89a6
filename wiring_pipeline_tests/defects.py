"""A partition with a known number of every wiring defect, and clean partitions around it.

`build_defect_world(engine)` writes, in the real database:

* `defect.broken`: healthy linked rows plus, for each metric of DESIGN section 3, rows
  that violate it, counted in `DefectWorld.expected`; the ids of the violating rows are in
  `DefectWorld.violating_ids`. The traps are deliberate: NULL references (a missing link,
  never an orphan), links to rows that exist but belong to another tenant or another
  engagement (an unscoped join would find them), and one-way links whose other side is
  NULL (a naive `<>` comparison misses them).
* `defect.sibling`: another engagement of the same client account, clean; its flow,
  assets and raw records are the "other engagement" targets of the broken partition.
* `clean.neighbour`: another client account, clean; its rows are the "other tenant"
  targets.

The backfill tests reuse this world: a backfill of `defect.broken` must leave the two
clean partitions untouched.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, insert

from wiring_pipeline.domain.cmdb_generator import CMDB_FIELD_MAPPINGS
from wiring_pipeline.domain.registry import add_flow, add_tenant
from wiring_pipeline.domain.schema import assets, data_imports, raw_import_records
from wiring_pipeline.domain.tenancy import TenantScope

BROKEN_KEY = "defect.broken"
SIBLING_KEY = "defect.sibling"
NEIGHBOUR_KEY = "clean.neighbour"
#: Linked asset/raw-record pairs written into every partition of the world.
HEALTHY_PAIRS = 3


@dataclass
class PartitionRows:
    """What a partition of the world holds: its scope, flow, and a healthy linked pair."""

    scope: TenantScope
    flow: dict
    data_import_id: uuid.UUID
    linked_asset_ids: list[uuid.UUID] = field(default_factory=list)
    linked_raw_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass
class DefectWorld:
    broken: PartitionRows
    sibling: PartitionRows
    neighbour: PartitionRows
    #: Metric name -> the count `defect.broken` must show.
    expected: dict[str, int]
    #: Metric name -> ids (as str) of every row of `defect.broken` that violates it.
    violating_ids: dict[str, set[str]]

    @property
    def clean(self) -> list[PartitionRows]:
        return [self.sibling, self.neighbour]


class _Writer:
    """Collects the rows of one partition and inserts them in two statements."""

    def __init__(self, partition: PartitionRows) -> None:
        self.partition = partition
        self.assets: list[dict] = []
        self.raws: list[dict] = []

    def asset(self, name: str, **values) -> uuid.UUID:
        row = {
            "id": uuid.uuid4(),
            **self.partition.scope.as_params(),
            "name": name,
            "asset_type": "Server",
            "discovery_method": "flow_based",
            "discovery_source": "Discovery Flow",
            "discovery_flow_id": self.partition.flow["id"],
            "master_flow_id": self.partition.flow["master_flow_id"],
            "raw_import_records_id": None,
        }
        row.update(values)
        self.assets.append(row)
        return row["id"]

    def raw(self, processed: bool = True, **values) -> uuid.UUID:
        row = {
            "id": uuid.uuid4(),
            **self.partition.scope.as_params(),
            "data_import_id": self.partition.data_import_id,
            "row_number": len(self.raws) + 1,
            "raw_data": {"Hostname": f"host-{len(self.raws) + 1}"},
            "is_processed": processed,
            "processing_notes": "Linked to: fixture" if processed else None,
            "asset_id": None,
        }
        row.update(values)
        self.raws.append(row)
        return row["id"]

    def linked_pairs(self, count: int) -> None:
        for n in range(count):
            asset_id, raw_id = uuid.uuid4(), uuid.uuid4()
            self.asset(f"linked-{n}", id=asset_id, raw_import_records_id=raw_id)
            self.raw(id=raw_id, asset_id=asset_id)
            self.partition.linked_asset_ids.append(asset_id)
            self.partition.linked_raw_ids.append(raw_id)
        # A rejected record: processed, no asset, a reason; it violates nothing.
        self.raw(asset_id=None, processing_notes="Rejected: missing Hostname")

    def flush(self, conn: Connection) -> None:
        conn.execute(insert(assets), self.assets)
        conn.execute(insert(raw_import_records), self.raws)


def _partition(conn: Connection, key: str) -> PartitionRows:
    scope, _ = add_tenant(conn, key)
    flow = add_flow(conn, scope, CMDB_FIELD_MAPPINGS, flow_name=f"{key} flow")
    import_id = conn.execute(
        insert(data_imports)
        .values(
            **scope.as_params(),
            filename=f"{key}.csv",
            status="loaded",
            discovery_flow_id=flow["id"],
        )
        .returning(data_imports.c.id)
    ).scalar_one()
    return PartitionRows(scope, flow, import_id)


def write_defect_world(conn: Connection) -> DefectWorld:
    """Write the three partitions in the caller's transaction."""
    sibling, neighbour, broken = (
        _partition(conn, k) for k in (SIBLING_KEY, NEIGHBOUR_KEY, BROKEN_KEY)
    )
    for clean in (sibling, neighbour):
        writer = _Writer(clean)
        writer.linked_pairs(HEALTHY_PAIRS)
        writer.flush(conn)

    w = _Writer(broken)
    w.linked_pairs(HEALTHY_PAIRS)
    ids: dict[str, set[uuid.UUID]] = {}

    def violates(metric: str, *row_ids: uuid.UUID) -> None:
        ids.setdefault(metric, set()).update(row_ids)

    no_flow = {"discovery_flow_id": None, "master_flow_id": None}
    for n in range(4):
        violates(
            "flow_based_assets_missing_discovery_flow_id",
            w.asset(f"missing-flow-{n}", flow_id=broken.flow["flow_id"], **no_flow),
        )
    # Not flow-based: missing a flow link is informative only (WARN). A NULL method is
    # neither 'flow_based' nor anything else, and still has no flow.
    informative = [
        w.asset("manual-0", discovery_method="manual", **no_flow),
        w.asset("manual-1", discovery_method="manual", **no_flow),
        w.asset("method-unknown", discovery_method=None, **no_flow),
    ]
    violates(
        "all_assets_missing_discovery_flow_id",
        *ids["flow_based_assets_missing_discovery_flow_id"],
        *informative,
    )
    violates(
        "assets_with_orphan_raw_import_ref",
        w.asset("raw-gone", raw_import_records_id=uuid.uuid4()),
        w.asset("raw-of-other-tenant", raw_import_records_id=neighbour.linked_raw_ids[0]),
        w.asset("raw-of-other-engagement", raw_import_records_id=sibling.linked_raw_ids[0]),
    )
    violates(
        "raw_records_with_orphan_asset_ref",
        *(w.raw(asset_id=uuid.uuid4()) for _ in range(3)),
        w.raw(asset_id=neighbour.linked_asset_ids[0]),
        w.raw(asset_id=sibling.linked_asset_ids[0]),
    )
    violates("unprocessed_raw_records", w.raw(processed=False), w.raw(processed=False))
    violates(
        "assets_with_orphan_flow_ref",
        *(w.asset(f"flow-gone-{n}", discovery_flow_id=uuid.uuid4()) for n in range(4)),
        w.asset("flow-of-other-engagement", discovery_flow_id=sibling.flow["id"]),
        w.asset("flow-of-other-tenant", discovery_flow_id=neighbour.flow["id"]),
    )
    # One-way links. The asset's record points nowhere (NULL), the record's asset points
    # nowhere (NULL), and a record that points at a third asset: each side counts.
    r1, r2, r4 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    a1 = w.asset("one-way-to-record", raw_import_records_id=r1)
    w.raw(id=r1, asset_id=None)
    a2 = w.asset("record-points-elsewhere", raw_import_records_id=r2)
    a3 = w.asset("pointed-at-by-record")
    w.raw(id=r2, asset_id=a3)
    a4 = w.asset("one-way-from-record")
    w.raw(id=r4, asset_id=a4)
    violates("asymmetric_links", a1, a2, r2, r4)
    w.flush(conn)

    violating = {metric: {str(i) for i in row_ids} for metric, row_ids in ids.items()}
    return DefectWorld(
        broken=broken,
        sibling=sibling,
        neighbour=neighbour,
        expected={metric: len(row_ids) for metric, row_ids in violating.items()},
        violating_ids=violating,
    )


def build_defect_world(engine: Engine) -> DefectWorld:
    """Write the world in its own committed transaction."""
    with engine.begin() as conn:
        return write_defect_world(conn)
