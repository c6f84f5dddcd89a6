"""Fleet-wide health: the counts of one partition at a time, a snapshot each, changes only."""

from __future__ import annotations

from sqlalchemy import text

from wiring_pipeline.domain.contract.metrics import METRICS
from wiring_pipeline.domain.core.tenancy import list_partition_scopes
from wiring_pipeline.domain.health.fleet import chunked, measure_and_record, measure_partitions
from wiring_pipeline.domain.health.measure import measure_wiring_health
from wiring_pipeline_tests.support.defects import build_defect_world


def test_fleet_counts_equal_each_partitions_own_counts(engine):
    world = build_defect_world(engine)
    with engine.connect() as conn:
        scopes = list_partition_scopes(conn)
        fleet = measure_partitions(conn, scopes)
        one_by_one = [measure_wiring_health(conn, scope) for scope in scopes]
    assert [h.scope for h in fleet] == [h.scope for h in one_by_one]
    assert [h.metrics for h in fleet] == [h.metrics for h in one_by_one]
    broken = next(h for h in fleet if h.scope == world.broken.scope)
    assert broken.metrics == world.expected
    assert {h.scope.partition_key: h.health_status for h in fleet} == {
        world.broken.scope.partition_key: "unhealthy",
        world.sibling.scope.partition_key: "healthy",
        world.neighbour.scope.partition_key: "healthy",
    }


def test_every_partition_gets_a_snapshot_and_only_changes_are_reported(engine):
    world = build_defect_world(engine)
    with engine.begin() as conn:
        scopes = list_partition_scopes(conn)
        first = measure_and_record(conn, scopes, "run-1")
    # Never measured: the broken partition reports what fails, the clean ones nothing.
    assert {m.health.scope.partition_key: m.previous for m in first} == {
        s.partition_key: None for s in scopes
    }
    reported = {m.health.scope.partition_key: m.changed_metrics() for m in first}
    assert reported[world.broken.scope.partition_key] == [
        m for m in METRICS if world.expected[m.name]
    ]
    assert all(not changed for key, changed in reported.items() if key != "defect.broken")

    with engine.begin() as conn:
        second = measure_and_record(conn, scopes, "run-2")
        rows = conn.execute(
            text(
                "SELECT partition_key, dagster_run_id, metrics"
                " FROM migration.wiring_health_snapshots ORDER BY id"
            )
        ).all()
    assert all(not m.changed_metrics() for m in second)
    assert [m.previous for m in second] == [m.health.metrics for m in first]
    assert [(r.partition_key, r.dagster_run_id) for r in rows] == [
        (s.partition_key, run) for run in ("run-1", "run-2") for s in scopes
    ]
    assert [r.metrics for r in rows[: len(scopes)]] == [m.health.metrics for m in first]


def test_chunks_cover_every_partition_once(engine):
    build_defect_world(engine)
    with engine.connect() as conn:
        scopes = list_partition_scopes(conn)
    chunks = chunked(scopes, 2)
    assert [len(c) for c in chunks] == [2, 1]
    assert [s for c in chunks for s in c] == scopes
