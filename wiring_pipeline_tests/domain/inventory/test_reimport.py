"""Re-imports (DESIGN 3a): one inventory per engagement, updated in place, with history."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.domain.health.measure import measure_wiring_health
from wiring_pipeline.domain.ingest.flows import FlowError, add_flow
from wiring_pipeline.domain.ingest.registry import RegistryError
from wiring_pipeline.domain.inventory.build import build_inventory
from wiring_pipeline.domain.inventory.history import asset_as_of, asset_changes
from wiring_pipeline.domain.inventory.listing import list_inventory_assets
from wiring_pipeline_tests.support import reimport_data as data
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.inventory_runs import (
    concurrent_inventory_runs,
    inventory_killed_in_its_transaction,
)
from wiring_pipeline_tests.support.pipeline_helpers import (
    dump_tables,
    run_stages,
    stage_until_inventory,
)
from wiring_pipeline_tests.support.table_counters import pending_writes

KEY = "acme.reimport"


@pytest.fixture()
def week_one(engine: Engine, tmp_path: Path):
    """A partition whose week-1 export (20 servers) is in the inventory."""
    scope = make_tenant(engine, KEY)
    flow = make_flow(engine, scope, mappings=data.MAPPINGS)
    first = data.register(engine, scope, flow, data.write(tmp_path / "week1.csv", data.week_one()))
    _, _, result = run_stages(engine, KEY)
    assert result.changes["created"] == 20
    return scope, flow, first


def health(engine: Engine, scope) -> dict[str, int]:
    with engine.connect() as conn:
        return measure_wiring_health(conn, scope).metrics


def current_count(engine: Engine, scope, include_retired: bool = False) -> int:
    with engine.connect() as conn:
        return list_inventory_assets(conn, scope, include_retired=include_retired).total


def test_the_identical_file_registers_nothing(engine, week_one, tmp_path):
    scope, flow, first = week_one
    before = dump_tables(engine)
    again = data.register(engine, scope, flow, data.write(tmp_path / "copy.csv", data.week_one()))
    assert again["duplicate_of"] == again["id"] == first["id"]
    assert dump_tables(engine) == before
    _, _, result = run_stages(engine, KEY)
    assert sum(result.changes.values()) == 0
    assert current_count(engine, scope) == 20


def test_the_identical_file_of_another_flow_or_partition_is_registered(engine, week_one, tmp_path):
    scope, _, first = week_one
    path = data.write(tmp_path / "copy.csv", data.week_one())
    other_flow = make_flow(engine, scope, mappings=data.MAPPINGS)
    assert "duplicate_of" not in data.register(engine, scope, other_flow, path)
    other = make_tenant(engine, "globex.reimport")
    registered = data.register(
        engine, other, make_flow(engine, other, mappings=data.MAPPINGS), path
    )
    assert "duplicate_of" not in registered and registered["id"] != first["id"]


def test_an_updated_export_updates_in_place_retires_and_keeps_history(engine, week_one, tmp_path):
    scope, flow, first = week_one
    before = data.assets_by_hostname(engine, scope)
    second = data.register(engine, scope, flow, data.write(tmp_path / "w2.csv", data.week_two()))

    _, _, result = run_stages(engine, KEY)

    assert result.changes == {
        "created": 3,
        "updated": 5,
        "unchanged": 12,
        "retired": 3,
        "revived": 0,
        "matched": 0,
    }
    assert result.superseded == 17
    assert {s["name"] for s in result.samples["retired"]} == {"srv01", "srv02", "srv03"}
    assert result.samples["updated"][0]["changes"] == {"memory_gb": {"old": 16, "new": 32}}
    after = data.assets_by_hostname(engine, scope)
    assert len(after) == 23  # one asset per server ever seen
    for host, old in before.items():
        assert after[host]["id"] == old["id"]  # ids kept
    for n in range(4, 9):
        asset = after[f"srv{n:02d}.corp.example"]
        assert asset["memory_gb"] == 32 and asset["current_phase"] == "inventory"
    gone = [after[f"srv{n:02d}.corp.example"] for n in range(1, 4)]
    assert {a["current_phase"] for a in gone} == {"retired"}
    assert all(
        a["raw_import_records_id"] == before[a["hostname"]]["raw_import_records_id"] for a in gone
    )  # retired assets keep their links

    with engine.connect() as conn:
        records = {
            row.id: row for row in conn.execute(text("SELECT * FROM migration.raw_import_records"))
        }
        changes = asset_changes(conn, scope, after["srv04.corp.example"]["id"])
        week_one_view = asset_as_of(conn, scope, after["srv04.corp.example"]["id"], first["id"])
    for host, asset in after.items():
        current = records[asset["raw_import_records_id"]]
        assert current.asset_id == asset["id"] and current.superseded_by is None
        if host in before and asset["current_phase"] != "retired":
            previous = records[before[host]["raw_import_records_id"]]
            assert previous.asset_id == asset["id"]  # history keeps its asset
            assert previous.superseded_by == current.id
            assert previous.processing_notes == f"Superseded by {current.id}"
            assert current.data_import_id == second["id"]
    assert [(c["change"], c["field_name"], c["old_value"], c["new_value"]) for c in changes] == [
        ("updated", "memory_gb", 16, 32)
    ]
    assert changes[0]["data_import_id"] == second["id"]
    assert week_one_view["memory_gb"] == 16 and week_one_view["name"] == "srv04"
    assert set(health(engine, scope).values()) == {0}
    assert current_count(engine, scope) == 20
    assert current_count(engine, scope, include_retired=True) == 23


def test_a_retired_server_that_comes_back_is_revived(engine, week_one, tmp_path):
    scope, flow, _ = week_one
    data.register(engine, scope, flow, data.write(tmp_path / "w2.csv", data.week_two()))
    run_stages(engine, KEY)
    retired_id = data.assets_by_hostname(engine, scope)["srv01.corp.example"]["id"]
    week_three = [*data.week_two(), data.server(1, owner="a.khan")]
    data.register(engine, scope, flow, data.write(tmp_path / "w3.csv", week_three))

    _, _, result = run_stages(engine, KEY)

    assert (result.changes["revived"], result.changes["created"], result.changes["retired"]) == (
        1,
        0,
        0,
    )
    srv01 = data.assets_by_hostname(engine, scope)["srv01.corp.example"]
    assert (srv01["id"], srv01["current_phase"], srv01["owner"]) == (
        retired_id,
        "inventory",
        "a.khan",
    )
    with engine.connect() as conn:
        history = [(c["change"], c["field_name"]) for c in asset_changes(conn, scope, retired_id)]
    assert history == [
        ("retired", "current_phase"),
        ("revived", "owner"),
        ("revived", "current_phase"),
    ]
    assert set(health(engine, scope).values()) == {0}
    assert current_count(engine, scope) == 21


def test_week_one_and_week_two_in_one_run_apply_in_order(engine, tmp_path):
    scope = make_tenant(engine, KEY)
    flow = make_flow(engine, scope, mappings=data.MAPPINGS)
    data.register(engine, scope, flow, data.write(tmp_path / "w1.csv", data.week_one()))
    data.register(engine, scope, flow, data.write(tmp_path / "w2.csv", data.week_two()))

    _, _, result = run_stages(engine, KEY)

    assert result.changes == {
        "created": 23,
        "updated": 5,
        "unchanged": 12,
        "retired": 3,
        "revived": 0,
        "matched": 0,
    }
    assert current_count(engine, scope) == 20
    assert set(health(engine, scope).values()) == {0}


def test_a_key_repeated_within_one_import_rejects_the_later_rows(engine, tmp_path):
    scope = make_tenant(engine, KEY)
    flow = make_flow(engine, scope, mappings=data.MAPPINGS)
    rows = [
        data.server(1),
        data.server(2),
        {**data.server(1, memory=64), "Hostname": "SRV01.corp.example "},
    ]
    data.register(engine, scope, flow, data.write(tmp_path / "dup.csv", rows))

    _, cleansed, result = run_stages(engine, KEY)

    assert (cleansed.cleansed, result.changes["created"]) == (2, 2)
    assert cleansed.rejected_by_reason == {"duplicate key": 1}
    with engine.connect() as conn:
        rejected = conn.execute(
            text(
                "SELECT row_number, processing_notes, is_processed, asset_id"
                " FROM migration.raw_import_records WHERE processing_notes LIKE 'Rejected:%'"
            )
        ).one()
    assert rejected.row_number == 4 and rejected.is_processed and rejected.asset_id is None
    assert rejected.processing_notes == (
        "Rejected: duplicate key 'srv01.corp.example' (first at row 2)"
    )
    assert data.assets_by_hostname(engine, scope)["srv01.corp.example"]["memory_gb"] == 16


def test_an_explicit_multi_column_key_is_trimmed_and_case_folded(engine, tmp_path):
    scope = make_tenant(engine, KEY)
    with engine.begin() as conn:
        flow = add_flow(conn, scope, data.MAPPINGS, identity_key=["Rack", "Environment"])
        with pytest.raises(FlowError, match="given twice"):
            add_flow(conn, scope, data.MAPPINGS, identity_key=["Rack", "Rack"])
    assert flow["identity_key_columns"] == ["Rack", "Environment"]
    data.register(engine, scope, flow, data.write(tmp_path / "w1.csv", data.week_one()))
    run_stages(engine, KEY)
    renamed = [
        {**row, "Asset Name": row["Asset Name"] + "-new", "Rack": f" r{row['Rack'][1:]} "}
        for row in data.week_one()
    ]
    data.register(engine, scope, flow, data.write(tmp_path / "w2.csv", renamed))

    _, _, result = run_stages(engine, KEY)

    assert (result.changes["updated"], result.changes["created"]) == (20, 0)
    assert current_count(engine, scope) == 20


def test_the_key_columns_are_checked_at_import_and_matched_in_any_case(engine, tmp_path):
    scope = make_tenant(engine, KEY)
    with engine.begin() as conn:
        flow = add_flow(conn, scope, data.MAPPINGS, identity_key=["Rack"])
    no_rack = [{k: v for k, v in row.items() if k != "Rack"} for row in data.week_one()]
    path = tmp_path / "no-rack.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(data.MAPPINGS))
        writer.writeheader()
        writer.writerows(no_rack)
    with pytest.raises(RegistryError, match="'Rack' is not in the header"):
        data.register(engine, scope, flow, path)
    lower = data.write(tmp_path / "lower.csv", data.week_one())
    lower.write_text(lower.read_text(encoding="utf-8").replace("Rack", "  rack"), encoding="utf-8")
    data.register(engine, scope, flow, lower)

    _, cleansed, result = run_stages(engine, KEY)

    assert (cleansed.rejected, result.changes["created"]) == (0, 20)


def test_a_flow_without_hostname_is_keyed_by_name(engine):
    scope = make_tenant(engine, KEY)
    mappings = {k: v for k, v in data.MAPPINGS.items() if v != "hostname"}
    assert make_flow(engine, scope, mappings=mappings)["identity_key_columns"] == ["Asset Name"]


def test_a_partial_import_retires_nothing(engine, week_one, tmp_path):
    scope, flow, _ = week_one
    partial = [data.server(4, memory=64), data.server(30)]
    data.register(engine, scope, flow, data.write(tmp_path / "p.csv", partial), partial=True)

    _, _, result = run_stages(engine, KEY)

    assert result.changes == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "retired": 0,
        "revived": 0,
        "matched": 0,
    }
    assert current_count(engine, scope) == 21
    assert set(health(engine, scope).values()) == {0}


def test_a_late_record_of_an_older_import_is_history_and_retires_nothing(
    engine, week_one, tmp_path
):
    scope, flow, first = week_one
    data.register(engine, scope, flow, data.write(tmp_path / "w2.csv", data.week_two()))
    run_stages(engine, KEY)
    srv04 = data.assets_by_hostname(engine, scope)["srv04.corp.example"]
    with engine.begin() as conn:  # what the backfill's requeue does to a record
        late = conn.execute(
            text(
                """
                UPDATE migration.raw_import_records
                SET asset_id = NULL, superseded_by = NULL, is_processed = false,
                    processed_at = NULL, processing_notes = NULL, cleansed_data = NULL
                WHERE data_import_id = :first AND asset_id = :asset
                RETURNING id
                """
            ),
            {"first": first["id"], "asset": srv04["id"]},
        ).scalar_one()

    _, _, result = run_stages(engine, KEY)

    assert sum(result.changes.values()) == 0 and result.late_records == 1
    after = data.assets_by_hostname(engine, scope)
    assert after["srv04.corp.example"]["memory_gb"] == 32  # week 2's value stays
    assert current_count(engine, scope) == 20  # week 1 is not the latest: nothing retired
    with engine.connect() as conn:
        record = conn.execute(
            text("SELECT * FROM migration.raw_import_records WHERE id = :id"), {"id": late}
        ).one()
    assert (record.asset_id, record.superseded_by) == (
        srv04["id"],
        after["srv04.corp.example"]["raw_import_records_id"],
    )
    assert set(health(engine, scope).values()) == {0}


def test_a_rerun_after_a_reimport_changes_nothing(engine, week_one, tmp_path):
    scope, flow, _ = week_one
    data.register(engine, scope, flow, data.write(tmp_path / "w2.csv", data.week_two()))
    run_stages(engine, KEY)
    before = dump_tables(engine)
    _, cleansed, again = run_stages(engine, KEY)
    assert (cleansed.cleansed, sum(again.changes.values()), again.linked) == (0, 0, 0)
    assert dump_tables(engine) == before


def test_a_reimport_moves_its_source_rows_with_hot_updates(engine, week_one, tmp_path):
    """Migration 0020: a source row's record pointer has no index and its page has room, so
    moving each unchanged server's source row to its new record writes no index entry (a
    retirement changes `current_phase`, which the identifier indexes are partial on)."""
    scope, flow, _ = week_one
    data.register(engine, scope, flow, data.write(tmp_path / "w2.csv", data.week_two()))
    stage_until_inventory(engine, KEY)
    with partition_transaction(engine, KEY) as work:
        before = pending_writes(work.conn, "asset_sources")
        result = build_inventory(work.conn, work.scope)
        after = pending_writes(work.conn, "asset_sources")
    updates = after.n_tup_upd - before.n_tup_upd
    hot = after.n_tup_hot_upd - before.n_tup_hot_upd
    moved = result.changes["updated"] + result.changes["unchanged"]
    assert (moved, result.changes["retired"]) == (17, 3)
    assert (hot, updates - hot) == (moved, result.changes["retired"])


def test_two_concurrent_reimports_of_one_partition(engine, week_one, tmp_path):
    scope, flow, _ = week_one
    data.register(engine, scope, flow, data.write(tmp_path / "w2.csv", data.week_two()))
    stage_until_inventory(engine, KEY)
    results = [r.changes for r in concurrent_inventory_runs(engine, KEY)]
    totals = sorted(sum(r.values()) for r in results)
    assert totals == [0, 23]
    assert len(data.assets_by_hostname(engine, scope)) == 23
    with engine.connect() as conn:
        history_rows = conn.execute(text("SELECT count(*) FROM migration.asset_history")).scalar()
    assert history_rows == 5 + 3  # each update and retirement recorded once
    assert set(health(engine, scope).values()) == {0}


def test_a_killed_reimport_leaves_the_database_as_before(engine, week_one, tmp_path):
    scope, flow, _ = week_one
    data.register(engine, scope, flow, data.write(tmp_path / "w2.csv", data.week_two()))
    stage_until_inventory(engine, KEY)
    before = dump_tables(engine)
    assert inventory_killed_in_its_transaction(engine, KEY, tmp_path)["updated"] == 5
    assert dump_tables(engine) == before
    with partition_transaction(engine, KEY) as work:
        assert build_inventory(work.conn, work.scope).changes["updated"] == 5


def test_the_same_file_in_two_partitions_stays_apart(engine, week_one, tmp_path):
    scope, flow, _ = week_one
    other = make_tenant(engine, "globex.reimport")
    other_flow = make_flow(engine, other, mappings=data.MAPPINGS)
    data.register(engine, other, other_flow, data.write(tmp_path / "o1.csv", data.week_one()))
    run_stages(engine, "globex.reimport")
    other_before = data.assets_by_hostname(engine, other)
    data.register(engine, scope, flow, data.write(tmp_path / "w2.csv", data.week_two()))

    run_stages(engine, KEY)

    assert data.assets_by_hostname(engine, other) == other_before
    assert current_count(engine, other) == 20 and current_count(engine, scope) == 20
    with engine.connect() as conn:
        crossed = conn.execute(
            text(
                """
                SELECT count(*) FROM migration.raw_import_records r
                JOIN migration.raw_import_records s ON s.id = r.superseded_by
                WHERE s.engagement_id <> r.engagement_id
                """
            )
        ).scalar()
    assert crossed == 0
    assert set(health(engine, other).values()) == {0}
