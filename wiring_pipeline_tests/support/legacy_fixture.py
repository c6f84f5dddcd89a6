"""Legacy rows for the backfill: one of every repairable and unrepairable case, by name.

`build_legacy_world(engine)` writes three partitions:

* `legacy.main`: the partition the tests backfill. Its flow has `flow_id` SHARED_FLOW_ID,
  which a flow of another tenant (`rival.main`) has too; each case below is a small set of
  rows whose ids are kept under the case's name, and `EXPECTED` says what a backfill must
  count for it.
* `legacy.other`: another engagement of the same client, with a broken row of its own.
* `rival.main`: another client account whose flow shares the `flow_id`, with broken rows
  of its own. A backfill of `legacy.main` must leave both untouched.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from wiring_pipeline.db import transactions
from wiring_pipeline.domain.contract import constraints
from wiring_pipeline.domain.core.schema import metadata
from wiring_pipeline.domain.health.measure import count_metrics
from wiring_pipeline.samples.broken_rows import PartitionRows, add_partition
from wiring_pipeline_tests.support.pipeline_helpers import dump_tables

MAIN_KEY = "legacy.main"
SIBLING_KEY = "legacy.other"
RIVAL_KEY = "rival.main"
SHARED_FLOW_ID = uuid.UUID("5e1f0a7e-0000-4000-8000-0000000000aa")
RIVAL_ONLY_FLOW_ID = uuid.UUID("5e1f0a7e-0000-4000-8000-0000000000bb")

#: What a backfill of `legacy.main` must count, per repair and per unrepairable case.
EXPECTED_REPAIRS = {
    "clear_orphan_flow_ref": 2,  # foreign_flow_with_legacy_id, foreign_flow_without_legacy_id
    "clear_orphan_raw_import_ref": 2,  # asset_raw_deleted, asset_raw_of_rival
    "clear_orphan_asset_ref": 3,  # raw_asset_deleted, raw_asset_of_rival, orphan_but_claimed
    "relink_flow_ref": 4,  # missing_flow (3), foreign_flow_with_legacy_id
    "complete_raw_import_ref": 2,  # raw_names_asset, raw_names_asset_unprocessed
    "complete_asset_ref": 4,  # asset_names_raw, raw_names_asset_unprocessed,
    #                          orphan_but_claimed, symmetric_unprocessed
    "clear_orphan_superseded_by": 0,  # legacy rows predate re-imports (test_reimport_wiring)
}
EXPECTED_UNREPAIRABLE = {
    "unmatched_legacy_flow_id": 1,  # flow_id_of_rival_only
    "flow_based_without_flow_ref": 2,  # foreign_flow_without_legacy_id, flow_based_nothing
    "link_conflicts": 4,  # conflict (asset + record), ambiguous (2 records)
}
#: The wiring health of `legacy.main` after the backfill.
EXPECTED_HEALTH_AFTER = {
    "flow_based_assets_missing_discovery_flow_id": 3,
    "all_assets_missing_discovery_flow_id": 4,
    "assets_with_orphan_raw_import_ref": 0,
    "raw_records_with_orphan_asset_ref": 0,
    "unprocessed_raw_records": 3,  # two requeued records and one never processed
    "assets_with_orphan_flow_ref": 0,
    "asymmetric_links": EXPECTED_UNREPAIRABLE["link_conflicts"],
    # The record rejected in cleansing: no wiring defect, and no backfill brings it back.
    "source_rows_not_in_inventory": 1,
    "raw_records_with_orphan_superseded_by": 0,
    "asset_sources_with_orphan_source_asset_ref": 0,
    "asset_sources_with_orphan_source_flow_ref": 0,
    "asset_sources_with_orphan_source_raw_import_ref": 0,
    "open_match_candidates": 0,
    "asset_field_conflicts": 0,
    "retirements_held": 0,
}


@dataclass
class LegacyWorld:
    main: PartitionRows
    sibling: PartitionRows
    rival: PartitionRows
    #: Case name -> ids of `legacy.main` rows written for it.
    cases: dict[str, list[uuid.UUID]]

    def ids(self, *names: str) -> set[uuid.UUID]:
        return {row_id for name in names for row_id in self.cases[name]}


#: Assets as the legacy code wrote them: no discovery source, a marker attribute.
LEGACY_ASSET = {"discovery_source": None, "custom_attributes": {"legacy": True}}


def _partition(conn: Connection, key: str, flow_ids: dict[str, uuid.UUID | None]) -> PartitionRows:
    return add_partition(conn, key, flow_ids, asset_defaults=LEGACY_ASSET)


def write_legacy_world(conn: Connection) -> LegacyWorld:
    main = _partition(conn, MAIN_KEY, {"main": SHARED_FLOW_ID})
    sibling = _partition(conn, SIBLING_KEY, {"main": None})
    rival = _partition(conn, RIVAL_KEY, {"main": SHARED_FLOW_ID, "only": RIVAL_ONLY_FLOW_ID})

    for other in (sibling, rival):
        other.pair("healthy")
        # Broken in its own partition: only its own backfill may touch it.
        other.asset(
            "own-missing-flow",
            flow_id=other.flows["main"]["flow_id"],
            discovery_flow_id=None,
            master_flow_id=None,
        )
        other.raw(asset_id=uuid.uuid4())
    rival_asset = rival.asset("rival-target")
    rival_raw = rival.raw()
    sibling_flow = sibling.flows["main"]

    m = main
    no_flow = {"discovery_flow_id": None, "master_flow_id": None}
    cases: dict[str, list[uuid.UUID]] = {}

    def case(name: str, *row_ids: uuid.UUID) -> None:
        cases[name] = list(row_ids)

    case("healthy", *m.pair("healthy-0"), *m.pair("healthy-1"))
    case("rejected", m.raw(processed=True, processing_notes="Rejected: missing Hostname"))
    case("never_processed", m.raw(processed=False))
    case("manual", m.asset("manual", discovery_method="manual", **no_flow))
    case(
        "missing_flow",
        *(m.asset(f"missing-flow-{n}", flow_id=SHARED_FLOW_ID, **no_flow) for n in range(3)),
    )
    rival_flow = rival.flows["main"]
    case(
        "foreign_flow_with_legacy_id",
        m.asset(
            "flow-of-rival",
            flow_id=SHARED_FLOW_ID,
            discovery_flow_id=rival_flow["id"],
            master_flow_id=rival_flow["master_flow_id"],
        ),
    )
    case(
        "foreign_flow_without_legacy_id",
        m.asset(
            "flow-of-sibling",
            discovery_flow_id=sibling_flow["id"],
            master_flow_id=sibling_flow["master_flow_id"],
        ),
    )
    case("flow_id_of_rival_only", m.asset("rival-flow-id", flow_id=RIVAL_ONLY_FLOW_ID, **no_flow))
    case("flow_based_nothing", m.asset("no-flow-at-all", **no_flow))
    case("raw_asset_deleted", m.raw(asset_id=uuid.uuid4(), processed_at=None))
    case("raw_asset_of_rival", m.raw(asset_id=rival_asset))
    case("asset_raw_deleted", m.asset("raw-deleted", raw_import_records_id=uuid.uuid4()))
    case("asset_raw_of_rival", m.asset("raw-of-rival", raw_import_records_id=rival_raw))

    # Cases list the rows the backfill changes; the other side of each link stays as it is.
    r1 = uuid.uuid4()
    m.asset("names-raw", raw_import_records_id=r1)
    case("asset_names_raw", m.raw(processed=False, id=r1))

    a2 = m.asset("named-by-raw")
    m.raw(asset_id=a2)
    case("raw_names_asset", a2)

    a3 = m.asset("named-by-unprocessed-raw")
    case("raw_names_asset_unprocessed", a3, m.raw(processed=False, asset_id=a3))

    r4 = uuid.uuid4()
    m.asset("claims-orphan", raw_import_records_id=r4)
    case("orphan_but_claimed", m.raw(id=r4, asset_id=uuid.uuid4()))

    r5, a6 = uuid.uuid4(), uuid.uuid4()
    a5 = m.asset("conflict-claimant", raw_import_records_id=r5)
    m.asset("conflict-named", id=a6)
    m.raw(id=r5, asset_id=a6)
    case("conflict", a5, r5, a6)

    a7 = m.asset("ambiguous")
    case("ambiguous", a7, m.raw(asset_id=a7), m.raw(asset_id=a7))

    a8, r8 = uuid.uuid4(), uuid.uuid4()
    m.asset("symmetric-unprocessed", id=a8, raw_import_records_id=r8)
    case("symmetric_unprocessed", m.raw(processed=False, id=r8, asset_id=a8))

    for partition in (main, sibling, rival):
        partition.flush(conn)
    return LegacyWorld(main, sibling, rival, cases)


def build_legacy_world(engine: Engine) -> LegacyWorld:
    with engine.begin() as conn:
        return write_legacy_world(conn)


#: Rows of `legacy.main` a backfill must change, by case: everything else stays as it is.
REPAIRED_CASES = (
    "missing_flow",
    "foreign_flow_with_legacy_id",
    "foreign_flow_without_legacy_id",
    "raw_asset_deleted",
    "raw_asset_of_rival",
    "asset_raw_deleted",
    "asset_raw_of_rival",
    "asset_names_raw",
    "raw_names_asset",
    "raw_names_asset_unprocessed",
    "orphan_but_claimed",
    "symmetric_unprocessed",
)


def drop_foreign_keys(engine: Engine) -> None:
    """Back to the schema the migrations leave: tests that add the keys call this after."""
    with engine.begin() as conn:
        constraints.drop_foreign_keys(conn)


#: Every table but the backfill's own record of what it did.
DATA_TABLES = [t.name for t in metadata.sorted_tables if not t.name.startswith("backfill_")]


def dump(engine: Engine, tables: list[str] = DATA_TABLES) -> dict[str, list[str]]:
    return dump_tables(engine, tables)


def metrics(engine: Engine, key: str) -> dict[str, int]:
    with transactions.partition_transaction(engine, key) as work:
        return count_metrics(work.conn, work.scope)
