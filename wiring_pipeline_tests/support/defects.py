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
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from wiring_pipeline.samples.broken_rows import PartitionRows, add_partition

BROKEN_KEY = "defect.broken"
SIBLING_KEY = "defect.sibling"
NEIGHBOUR_KEY = "clean.neighbour"
#: Linked asset/raw-record pairs written into every partition of the world.
HEALTHY_PAIRS = 3


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


def _healthy_rows(partition: PartitionRows) -> None:
    for n in range(HEALTHY_PAIRS):
        partition.pair(f"linked-{n}")


def _rejected_at_load(conn: Connection, partition: PartitionRows, row_number: int) -> uuid.UUID:
    return conn.execute(
        text(
            "INSERT INTO migration.import_rejected_rows (client_account_id, engagement_id,"
            " data_import_id, row_number, reason, raw_text) VALUES (:client_account_id,"
            " :engagement_id, :data_import_id, :row_number, 'row has 3 fields, the header has 2',"
            " 'a,b,c') RETURNING id"
        ),
        {
            **partition.scope.as_params(),
            "data_import_id": partition.data_import_id,
            "row_number": row_number,
        },
    ).scalar_one()


def _source_row(conn: Connection, partition: PartitionRows, **refs) -> uuid.UUID:
    return conn.execute(
        text(
            "INSERT INTO migration.asset_sources (client_account_id, engagement_id, asset_id,"
            " discovery_flow_id, raw_import_record_id, identity_key, matched_on)"
            " VALUES (:client_account_id, :engagement_id, :asset_id, :discovery_flow_id,"
            " :raw_import_record_id, gen_random_uuid()::text, 'new') RETURNING id"
        ),
        {**partition.scope.as_params(), **refs},
    ).scalar_one()


def _review_row(conn: Connection, partition: PartitionRows, table: str, asset_id) -> uuid.UUID:
    """An open match candidate or a conflict of `asset_id`; the id its sample shows."""
    if table == "match_candidates":
        sql = (
            "INSERT INTO migration.match_candidates (client_account_id, engagement_id, asset_id,"
            " candidate_asset_id, rule, reason) VALUES (:client_account_id, :engagement_id,"
            " :asset_id, gen_random_uuid(), 'ip_address', 'agrees on ip_address but its"
            " hostname differs') RETURNING id::text"
        )
    else:
        sql = (
            "INSERT INTO migration.asset_conflicts (client_account_id, engagement_id, asset_id,"
            " field_name, source_values) VALUES (:client_account_id, :engagement_id, :asset_id,"
            " 'memory_gb', '{\"a\": 12, \"b\": 16}') RETURNING asset_id::text"
        )
    return conn.execute(
        text(sql), {**partition.scope.as_params(), "asset_id": asset_id}
    ).scalar_one()


def write_defect_world(conn: Connection) -> DefectWorld:
    """Write the three partitions in the caller's transaction."""
    sibling, neighbour, broken = (
        add_partition(conn, k) for k in (SIBLING_KEY, NEIGHBOUR_KEY, BROKEN_KEY)
    )
    for clean in (sibling, neighbour):
        _healthy_rows(clean)
        clean.flush(conn)

    w = broken
    _healthy_rows(w)
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
    # A re-import's history naming a successor that is gone, or of another engagement.
    violates(
        "raw_records_with_orphan_superseded_by",
        w.raw(superseded_by=uuid.uuid4()),
        w.raw(superseded_by=sibling.linked_raw_ids[0]),
    )
    # Source rows of the import that became no asset: rejected in cleansing (processed, no
    # asset, a reason: no wiring defect, but incomplete) and rejected at load.
    violates(
        "source_rows_not_in_inventory",
        w.raw(cleansed_data=None, processing_notes="Rejected: missing Hostname"),
        _rejected_at_load(conn, w, 1000),
    )
    w.flush(conn)
    # Source rows (DESIGN 3e) naming an asset, a flow or a record that is gone or another
    # engagement's or tenant's (their other links NULL: missing, not orphans); and what
    # reconciliation leaves to review.
    asset = w.linked_asset_ids[0]
    for metric, column, targets in (
        ("asset_sources_with_orphan_source_asset_ref", "asset_id",
         (uuid.uuid4(), sibling.linked_asset_ids[0], neighbour.linked_asset_ids[0])),
        ("asset_sources_with_orphan_source_flow_ref", "discovery_flow_id",
         (uuid.uuid4(), sibling.flow["id"])),
        ("asset_sources_with_orphan_source_raw_import_ref", "raw_import_record_id",
         (uuid.uuid4(), neighbour.linked_raw_ids[0])),
    ):  # fmt: skip
        for target in targets:
            refs = dict.fromkeys(("asset_id", "discovery_flow_id", "raw_import_record_id"))
            violates(metric, _source_row(conn, w, **{**refs, column: target}))
    violates("open_match_candidates", _review_row(conn, w, "match_candidates", asset))
    violates("asset_field_conflicts", _review_row(conn, w, "asset_conflicts", asset))
    # The partition's loaded import holds its retirements, unconfirmed.
    held = conn.execute(
        text(
            "UPDATE migration.data_imports SET retirement_held = 40"
            " WHERE id = :id AND status = 'loaded' RETURNING id"
        ),
        {"id": w.data_import_id},
    ).scalar_one()
    violates("retirements_held", held)

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
