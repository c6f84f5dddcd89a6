"""Wiring metrics count exactly the partition's own defects; history keeps the baseline."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert, update

from wiring_pipeline.domain.contract.links import SUPERSEDED_BY
from wiring_pipeline.domain.contract.metrics import METRICS
from wiring_pipeline.domain.core.schema import assets, raw_import_records
from wiring_pipeline.domain.health.measure import SAMPLE_LIMIT, measure_wiring_health
from wiring_pipeline.domain.health.snapshots import record_snapshot
from wiring_pipeline.samples.demo import DEMO_PARTITIONS, seed_demo
from wiring_pipeline_tests.support.defects import build_defect_world

ZERO = {m.name: 0 for m in METRICS}


def add_superseded(engine, partition, successors) -> list[str]:
    """Processed records of `partition`, each superseded by one of `successors`; ids as str."""
    rows = [
        {
            "id": uuid.uuid4(),
            **partition.scope.as_params(),
            "data_import_id": partition.data_import_id,
            "row_number": 2000 + n,
            "raw_data": {},
            "is_processed": True,
            "processing_notes": f"Superseded by {successor}",
            "superseded_by": successor,
        }
        for n, successor in enumerate(successors)
    ]
    with engine.begin() as conn:
        conn.execute(insert(raw_import_records), rows)
    return [str(row["id"]) for row in rows]


@pytest.fixture()
def world(engine):
    """The defect world, with the superseded_by link's orphans too: every metric violated."""
    world = build_defect_world(engine)
    # Superseded by a record that is gone, and by one of the sibling engagement.
    orphans = add_superseded(engine, world.broken, (uuid.uuid4(), world.sibling.linked_raw_ids[0]))
    metric = SUPERSEDED_BY.orphan_metric
    world.expected[metric] = world.expected.get(metric, 0) + len(orphans)
    world.violating_ids.setdefault(metric, set()).update(orphans)
    return world


def measure(engine, scope, detail=False):
    with engine.connect() as conn:
        return measure_wiring_health(conn, scope, detail=detail)


def test_every_metric_equals_its_defect_count(engine, world):
    health = measure(engine, world.broken.scope)
    assert set(world.expected) == set(ZERO)
    assert health.metrics == world.expected
    assert health.health_status == "unhealthy"


def test_a_record_superseded_by_no_record_of_the_partition_reads_unhealthy(engine):
    world = build_defect_world(engine)
    clean = world.neighbour
    # Superseded by a record that is gone, by another tenant's, and by one of its own.
    successors = (uuid.uuid4(), world.sibling.linked_raw_ids[0], clean.linked_raw_ids[0])
    *orphans, _history = add_superseded(engine, clean, successors)

    health = measure(engine, clean.scope, detail=True)

    assert health.metrics == {**ZERO, SUPERSEDED_BY.orphan_metric: 2}
    assert health.health_status == "unhealthy"
    assert {s["id"] for s in health.samples[SUPERSEDED_BY.orphan_metric]} == set(orphans)


def test_clean_neighbours_stay_healthy(engine, world):
    for clean in world.clean:
        health = measure(engine, clean.scope, detail=True)
        assert health.metrics == ZERO
        assert health.health_status == "healthy"
        assert health.samples == {}


def test_samples_are_only_the_partitions_own_violating_rows(engine, world):
    health = measure(engine, world.broken.scope, detail=True)
    assert set(health.samples) == set(world.expected)
    for metric, samples in health.samples.items():
        assert len(samples) == min(SAMPLE_LIMIT, world.expected[metric])
        assert {s["id"] for s in samples} <= world.violating_ids[metric], metric
        assert all(s["name"] and s["created_at"] for s in samples)


def test_rows_of_other_tenants_and_engagements_do_not_change_the_metrics(engine, world):
    before = measure(engine, world.broken.scope).metrics
    broken_flow = world.broken.flow["id"]
    broken_asset, broken_raw = world.broken.linked_asset_ids[0], world.broken.linked_raw_ids[0]
    with engine.begin() as conn:
        for other in world.clean:
            # Rows elsewhere that point INTO the broken partition, and are broken themselves.
            other_raw = uuid.uuid4()
            conn.execute(
                insert(raw_import_records).values(
                    id=other_raw,
                    **other.scope.as_params(),
                    row_number=1000,
                    raw_data={},
                    is_processed=False,
                    asset_id=broken_asset,
                )
            )
            conn.execute(
                insert(assets).values(
                    **other.scope.as_params(),
                    name="noise",
                    discovery_method="flow_based",
                    discovery_flow_id=broken_flow,
                    raw_import_records_id=broken_raw,
                )
            )
            conn.execute(
                insert(assets).values(
                    **other.scope.as_params(), name="noise-missing", discovery_method="flow_based"
                )
            )
    assert measure(engine, world.broken.scope).metrics == before
    assert measure(engine, world.neighbour.scope).health_status == "unhealthy"


def test_demo_baseline_matches_the_seeded_defects(engine, tmp_path):
    with engine.begin() as conn:
        seeded = seed_demo(conn, tmp_path / "files", tmp_path / "imports")
    for item, partition in zip(seeded, DEMO_PARTITIONS):
        health = measure(engine, item.scope)
        assert health.metrics == partition.legacy.expected_metrics(), partition.key


def test_history_keeps_the_first_snapshot_as_baseline(engine, world):
    scope = world.broken.scope
    with engine.begin() as conn:
        first = record_snapshot(conn, measure_wiring_health(conn, scope), "run-1")
    assert first.previous is None and first.baseline is None
    assert first.delta_vs_baseline == ZERO

    with engine.begin() as conn:
        conn.execute(
            update(raw_import_records)
            .where(
                raw_import_records.c.client_account_id == scope.client_account_id,
                raw_import_records.c.engagement_id == scope.engagement_id,
                raw_import_records.c.is_processed.is_(False),
            )
            .values(is_processed=True)
        )
        second = record_snapshot(conn, measure_wiring_health(conn, scope), "run-2")
    with engine.begin() as conn:
        third = record_snapshot(conn, measure_wiring_health(conn, scope), None)

    unprocessed = world.expected["unprocessed_raw_records"]
    assert second.previous.id == first.snapshot.id == second.baseline.id
    assert second.delta_vs_previous == {**ZERO, "unprocessed_raw_records": -unprocessed}
    assert third.previous.id == second.snapshot.id
    assert third.baseline.id == first.snapshot.id
    assert third.delta_vs_previous == ZERO
    assert third.delta_vs_baseline == {**ZERO, "unprocessed_raw_records": -unprocessed}

    # Another partition's history starts on its own baseline.
    with engine.begin() as conn:
        other = record_snapshot(conn, measure_wiring_health(conn, world.neighbour.scope), "run-3")
    assert other.baseline is None and other.snapshot.metrics == ZERO
