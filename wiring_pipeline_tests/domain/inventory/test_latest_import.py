"""Which import a flow's inventory stands for (one definition with health's), and a build
that sees only its own changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.domain.health.measure import measure_wiring_health
from wiring_pipeline.domain.inventory.build import build_inventory
from wiring_pipeline_tests.support import reimport_data as data
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.pipeline_helpers import run_stages, stage_until_inventory

KEY = "acme.standing"


@pytest.fixture()
def week_one(engine: Engine, tmp_path: Path):
    scope = make_tenant(engine, KEY)
    flow = make_flow(engine, scope, mappings=data.MAPPINGS)
    data.register(engine, scope, flow, data.write(tmp_path / "week1.csv", data.week_one()))
    run_stages(engine, KEY)
    return scope, flow


def test_an_import_registered_before_the_inventory_step_does_not_stale_the_loaded_one(
    engine, week_one, tmp_path
):
    scope, flow = week_one
    data.register(engine, scope, flow, data.write(tmp_path / "week2.csv", data.week_two()))
    stage_until_inventory(engine, KEY)
    # Next week's export arrives between this run's load and inventory steps: pending.
    week_three = [*data.week_two(), data.server(24)]
    pending = data.register(engine, scope, flow, data.write(tmp_path / "week3.csv", week_three))
    assert "duplicate_of" not in pending

    with partition_transaction(engine, KEY) as work:
        result = build_inventory(work.conn, work.scope)

    assert result.changes == {
        "created": 3,
        "updated": 5,
        "unchanged": 12,
        "retired": 3,
        "revived": 0,
        "matched": 0,
    }
    assert (result.superseded, result.late_records) == (17, 0)
    after = data.assets_by_hostname(engine, scope)
    assert after["srv04.corp.example"]["memory_gb"] == 32
    assert {after[f"srv0{n}.corp.example"]["current_phase"] for n in (1, 2, 3)} == {"retired"}
    with engine.connect() as conn:
        status = conn.execute(
            text("SELECT status FROM migration.data_imports WHERE id = :id"),
            {"id": pending["id"]},
        ).scalar_one()
        assert status == "pending"
        assert set(measure_wiring_health(conn, scope).metrics.values()) == {0}


def test_a_second_build_in_the_same_transaction_counts_only_its_own_changes(
    engine, week_one, tmp_path
):
    scope, flow = week_one
    data.register(engine, scope, flow, data.write(tmp_path / "week2.csv", data.week_two()))
    stage_until_inventory(engine, KEY)

    with partition_transaction(engine, KEY) as work:
        first = build_inventory(work.conn, work.scope)
        second = build_inventory(work.conn, work.scope)

    assert first.changes == {
        "created": 3,
        "updated": 5,
        "unchanged": 12,
        "retired": 3,
        "revived": 0,
        "matched": 0,
    }
    assert set(second.changes.values()) == {0}
    assert (second.linked, second.superseded, second.late_records) == (0, 0, 0)
    assert (second.samples, second.preview, second.by_type) == ({}, [], {})
    with engine.connect() as conn:
        assert set(measure_wiring_health(conn, scope).metrics.values()) == {0}
