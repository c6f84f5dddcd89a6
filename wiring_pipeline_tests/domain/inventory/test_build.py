"""Inventory: assets and links in one transaction; atomic, idempotent, tenant-isolated."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from wiring_pipeline.bench.partition_diff import table_differences
from wiring_pipeline.db.import_loading import load_pending_imports
from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.domain.cleansing.records import cleanse_open_records
from wiring_pipeline.domain.health.measure import measure_wiring_health
from wiring_pipeline.domain.ingest.registry import register_import
from wiring_pipeline.domain.inventory.build import (
    build_inventory,
    field_mappings_hash,
    write_inventory_assets,
)
from wiring_pipeline.samples import cmdb_generator as gen
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.inventory_runs import (
    concurrent_inventory_runs,
    inventory_killed_in_its_transaction,
)
from wiring_pipeline_tests.support.pipeline_helpers import (
    dump_tables,
    register,
    run_stages,
    stage_until_inventory,
)

KEY = "acme.inventory"
ROWS = 120


@pytest.fixture()
def partition(engine: Engine, tmp_path: Path):
    """A partition with one pending CMDB export of ROWS messy rows."""
    scope = make_tenant(engine, KEY)
    flow = make_flow(engine, scope)
    path = tmp_path / "cmdb.csv"
    gen.write_csv(path, gen.iter_cmdb_rows(11, ROWS), bom=True)
    register(engine, scope, flow, path)
    return scope, flow


def test_hash_is_canonical():
    flow_id = uuid.uuid4()
    forward = {"Asset Name": "name", "CI Class": "asset_type", "Env": "environment"}
    backward = dict(reversed(list(forward.items())))
    assert list(forward) != list(backward)
    assert field_mappings_hash(flow_id, forward) == field_mappings_hash(str(flow_id), backward)
    assert field_mappings_hash(flow_id, forward) != field_mappings_hash(uuid.uuid4(), forward)
    assert field_mappings_hash(flow_id, forward) != field_mappings_hash(
        flow_id, {**forward, "Env": "criticality"}
    )
    assert len(field_mappings_hash(flow_id, forward)) == 64


def test_assets_are_created_wired_and_linked(engine, partition):
    scope, flow = partition
    _, cleansed, result = run_stages(engine, KEY)
    assert result.created == result.linked == cleansed.cleansed > 0
    assert result.rejected == cleansed.rejected > 0
    assert sum(result.by_type.values()) == result.created
    assert len(result.preview) == 5
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT a.*, r.asset_id AS back_link, r.is_processed, r.processing_notes,
                       r.raw_data
                FROM migration.assets a
                JOIN migration.raw_import_records r ON r.id = a.raw_import_records_id
                """
            )
        ).all()
    assert len(rows) == result.created
    expected_hash = field_mappings_hash(flow["flow_id"], flow["field_mappings"])
    for row in rows:
        assert (row.client_account_id, row.engagement_id) == (
            scope.client_account_id,
            scope.engagement_id,
        )
        assert row.back_link == row.id and row.is_processed
        assert row.processing_notes == f"Linked to: {row.name}"
        assert row.discovery_flow_id == flow["id"]
        assert row.master_flow_id == flow["master_flow_id"]
        assert row.field_mappings_used == expected_hash
        assert (row.source_phase, row.current_phase) == ("inventory", "inventory")
        assert (row.discovery_method, row.discovery_source) == ("flow_based", "Discovery Flow")
        assert row.discovery_timestamp is not None
        assert row.custom_attributes == {
            "unmapped_columns": {
                "Support Group": row.raw_data["Support Group"],
                "Last Scan": row.raw_data["Last Scan"],
            },
            "field_mappings_version": str(flow["field_mappings_version_id"]),
            "discovered_in_phase": "inventory",
        }
        assert row.name == row.name.strip() and row.environment == row.environment.lower()
    with engine.connect() as conn:
        health = measure_wiring_health(conn, scope)
    assert health.health_status == "healthy", health.metrics


def test_second_run_changes_nothing_and_partial_imports_add_alongside(engine, partition, tmp_path):
    scope, flow = partition
    run_stages(engine, KEY)
    before = dump_tables(engine)
    loaded, cleansed, again = run_stages(engine, KEY)
    assert (loaded, cleansed.cleansed, again.created, again.linked) == ([], 0, 0, 0)
    assert dump_tables(engine) == before

    path = tmp_path / "more.csv"
    gen.write_csv(path, gen.iter_cmdb_rows(12, 30, prefix="more"))
    with engine.begin() as conn:
        register_import(conn, scope, flow, path, tmp_path / "imports", partial=True)
    _, cleansed, more = run_stages(engine, KEY)
    assert more.created == cleansed.cleansed > 0
    assert more.changes["retired"] == 0
    after = dump_tables(engine, ["assets"])["assets"]
    assert set(before["assets"]) <= set(after)
    assert len(after) == len(before["assets"]) + more.created


def test_a_raw_record_named_by_a_legacy_asset_gets_no_second_asset(engine, partition):
    scope, _ = partition
    stage_until_inventory(engine, KEY)
    with engine.begin() as conn:
        legacy_target = conn.execute(
            text(
                """
                INSERT INTO migration.assets
                    (client_account_id, engagement_id, name, discovery_method,
                     raw_import_records_id)
                SELECT r.client_account_id, r.engagement_id, 'legacy one-way', 'flow_based',
                       r.id
                FROM migration.raw_import_records r
                JOIN migration.cleansed_record_archive c ON c.raw_import_record_id = r.id
                WHERE c.verdict IS NULL
                ORDER BY r.row_number LIMIT 1
                RETURNING raw_import_records_id
                """
            )
        ).scalar_one()
    with partition_transaction(engine, KEY) as work:
        result = build_inventory(work.conn, work.scope)
    assert result.skipped_legacy_linked == 1
    with engine.connect() as conn:
        record = conn.execute(
            text("SELECT asset_id, is_processed FROM migration.raw_import_records WHERE id = :id"),
            {"id": legacy_target},
        ).one()
        named_by = conn.execute(
            text("SELECT count(*) FROM migration.assets WHERE raw_import_records_id = :id"),
            {"id": legacy_target},
        ).scalar_one()
    assert (record.asset_id, record.is_processed, named_by) == (None, False, 1)


def test_failure_between_insert_and_link_leaves_nothing(engine, partition):
    stage_until_inventory(engine, KEY)
    before = dump_tables(engine)
    with pytest.raises(RuntimeError, match="injected"):
        with partition_transaction(engine, KEY) as work:
            created = write_inventory_assets(work.conn, work.scope)["created"]
            assert created > 0
            assert work.conn.execute(text("SELECT count(*) FROM migration.assets")).scalar() > 0
            raise RuntimeError("injected failure before the links are written")
    assert dump_tables(engine) == before


def test_sigkill_in_the_middle_of_the_transaction_leaves_the_database_as_before(
    engine, partition, tmp_path
):
    stage_until_inventory(engine, KEY)
    before = dump_tables(engine)
    created = inventory_killed_in_its_transaction(engine, KEY, tmp_path)["created"]
    assert created > 0
    assert dump_tables(engine) == before
    # The partition is not left locked: the work can be done now.
    with partition_transaction(engine, KEY) as work:
        assert build_inventory(work.conn, work.scope).created == created


def test_a_run_stopped_between_cleansing_and_inventory_leaves_the_records_as_loaded(
    engine, partition, tmp_path
):
    """DESIGN 1: cleansing writes only the archive, so a run that stops after it (or is
    killed inside the inventory) leaves every raw record as the load wrote it; finishing it
    later gives what a run straight through gives."""
    scope, _ = partition
    with partition_transaction(engine, KEY) as work:
        load_pending_imports(work.conn, work.scope)
    as_loaded = dump_tables(engine, ["raw_import_records"])
    with partition_transaction(engine, KEY) as work:
        cleansed = cleanse_open_records(work.conn, work.scope)
    assert cleansed.cleansed > 0 and cleansed.rejected > 0, cleansed
    assert dump_tables(engine, ["raw_import_records"]) == as_loaded
    before = dump_tables(engine)
    assert inventory_killed_in_its_transaction(engine, KEY, tmp_path)["created"] > 0
    assert dump_tables(engine) == before
    with partition_transaction(engine, KEY) as work:
        build_inventory(work.conn, work.scope)

    straight = make_tenant(engine, "acme.straight")
    path = tmp_path / "same.csv"
    gen.write_csv(path, gen.iter_cmdb_rows(11, ROWS), bom=True)
    register(engine, straight, make_flow(engine, straight), path)
    run_stages(engine, "acme.straight")
    with engine.connect() as conn:
        compared = table_differences(conn, scope, straight)
    # Each record's summary, note and link, and its archived values and verdict.
    for table in ("raw_import_records", "cleansed_record_archive"):
        assert compared[table] == {"left_rows": ROWS, "right_rows": ROWS, "differences": 0}
    with engine.connect() as conn:
        summaries = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE cleansed_data ->> 'status' = 'rejected'"
                " AND processing_notes LIKE 'Rejected: %' AND asset_id IS NULL),"
                " count(*) FILTER (WHERE cleansed_data ->> 'status' = 'cleansed'"
                " AND asset_id IS NOT NULL), count(*) FILTER (WHERE NOT is_processed)"
                " FROM migration.raw_import_records WHERE engagement_id = :e"
            ),
            {"e": scope.engagement_id},
        ).one()
    assert tuple(summaries) == (cleansed.rejected, cleansed.cleansed, 0)


def test_two_concurrent_runs_make_no_duplicates_and_no_half_links(engine, partition):
    stage_until_inventory(engine, KEY)
    results = [r.created for r in concurrent_inventory_runs(engine, KEY)]
    assert sorted(results)[0] == 0 and sorted(results)[1] > 0
    with engine.connect() as conn:
        duplicates = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT raw_import_records_id FROM migration.assets"
                " GROUP BY 1 HAVING count(*) > 1) d"
            )
        ).scalar()
        half_linked = conn.execute(
            text(
                """
                SELECT count(*) FROM migration.assets a
                WHERE NOT EXISTS (SELECT 1 FROM migration.raw_import_records r
                                  WHERE r.id = a.raw_import_records_id AND r.asset_id = a.id)
                """
            )
        ).scalar()
    assert (duplicates, half_linked) == (0, 0)


def test_without_the_partition_lock_the_unique_index_still_prevents_duplicates(engine, partition):
    """Two transactions that skip the advisory lock: the second waits, then creates nothing."""
    scope, _ = partition
    stage_until_inventory(engine, KEY)
    outcome = {}
    with engine.connect() as first:
        first.begin()
        created_first = build_inventory(first, scope).created

        def second_run() -> None:
            with engine.connect() as second, second.begin():
                outcome["created"] = build_inventory(second, scope).created

        thread = threading.Thread(target=second_run)
        thread.start()
        first.commit()
        thread.join()
    assert created_first > 0 and outcome["created"] == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM migration.assets")).scalar() == (
            created_first
        )


def test_running_one_partition_leaves_another_with_the_same_file_untouched(engine, tmp_path):
    path = tmp_path / "shared.csv"
    gen.write_csv(path, gen.iter_cmdb_rows(5, 60))
    for key in (KEY, "globex.inventory"):
        scope = make_tenant(engine, key)
        register(engine, scope, make_flow(engine, scope), path)
    run_stages(engine, "globex.inventory")
    other = make_tenant(engine, "globex.inventory")
    before = dump_tables(engine)

    _, cleansed, result = run_stages(engine, KEY)

    assert result.created == cleansed.cleansed > 0
    after = dump_tables(engine)
    other_id = str(other.engagement_id)
    for table, rows in before.items():
        assert [r for r in rows if other_id in r] == [r for r in after[table] if other_id in r], (
            table
        )
    with engine.connect() as conn:
        crossed = conn.execute(
            text(
                """
                SELECT count(*) FROM migration.assets a
                JOIN migration.raw_import_records r ON r.id = a.raw_import_records_id
                WHERE r.engagement_id <> a.engagement_id
                   OR r.client_account_id <> a.client_account_id
                """
            )
        ).scalar()
    assert crossed == 0
