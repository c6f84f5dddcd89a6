"""The `wiring_health` asset stores snapshots; its checks pass on clean data, fail on defects."""

from __future__ import annotations

import pytest
from dagster import AssetCheckSeverity, DagsterInstance
from dagster._core.errors import DagsterAssetCheckFailedError
from sqlalchemy import insert, select

from wiring_pipeline.defs.health.assets import WIRING_HEALTH_KEY
from wiring_pipeline.defs.health.checks import wiring_zero_orphan_checks
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.contract.metrics import METRICS
from wiring_pipeline.domain.core.schema import assets, wiring_health_snapshots
from wiring_pipeline_tests.support.defects import build_defect_world
from wiring_pipeline_tests.support.pipeline_helpers import measure_health

SEVERITY = {"ERROR": AssetCheckSeverity.ERROR, "WARN": AssetCheckSeverity.WARN}


@pytest.fixture()
def world(engine):
    return build_defect_world(engine)


@pytest.fixture()
def instance(world):
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(
            tenant_engagements.name,
            [p.scope.partition_key for p in (world.broken, world.sibling, world.neighbour)],
        )
        yield instance


def evaluations(result):
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_checks_pass_on_clean_partitions_and_the_asset_records_a_baseline(engine, world, instance):
    key = world.neighbour.scope.partition_key
    result = measure_health(instance, key)
    assert result.success
    checks = evaluations(result)
    assert set(checks) == {m.name for m in METRICS}
    assert all(e.passed and e.partition == key for e in checks.values())
    assert all(e.metadata["count"].value == 0 for e in checks.values())

    (materialization,) = result.asset_materializations_for_node("wiring_health")
    metadata = materialization.metadata
    assert all(metadata[m.name].value == 0 for m in METRICS)
    assert metadata["health_status"].value == "healthy"
    assert metadata["is_baseline"].value is True
    table = metadata["metrics_table"]
    assert [c.name for c in table.schema.columns][:3] == ["metric", "check", "count"]
    assert [r.data["metric"] for r in table.records] == [m.name for m in METRICS]
    assert metadata["dagster/row_count"].value == 1  # the baseline snapshot
    with engine.connect() as conn:
        stored = conn.execute(select(wiring_health_snapshots)).one()
    assert stored.partition_key == key and stored.dagster_run_id == result.run_id
    assert stored.metrics == {m.name: 0 for m in METRICS}


def test_each_check_fails_with_its_severity_and_samples_and_blocking_fails_the_run(
    engine, world, instance
):
    key = world.broken.scope.partition_key
    result = measure_health(instance, key)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "wiring_zero_orphan_checks"
    assert DagsterAssetCheckFailedError.__name__ in failure.event_specific_data.error.cls_name

    checks = evaluations(result)
    for metric in METRICS:
        evaluation = checks[metric.name]
        assert not evaluation.passed, metric.name
        assert evaluation.severity == SEVERITY[metric.severity], metric.name
        assert evaluation.blocking is metric.blocking, metric.name
        assert evaluation.partition == key
        assert evaluation.metadata["count"].value == world.expected[metric.name]
        sample_ids = {s["id"] for s in evaluation.metadata["samples"].value}
        assert sample_ids and sample_ids <= world.violating_ids[metric.name]
        sample_rows = evaluation.metadata["sample_rows"]
        assert {r.data["id"] for r in sample_rows.records} == sample_ids

    # The asset itself succeeded before the checks: the snapshot is kept with the counts.
    with engine.connect() as conn:
        stored = conn.execute(select(wiring_health_snapshots)).one()
    assert stored.metrics == world.expected and stored.health_status == "unhealthy"
    (materialization,) = result.asset_materializations_for_node("wiring_health")
    assert materialization.metadata["asymmetric_links"].value == world.expected["asymmetric_links"]


def test_a_failed_warn_check_does_not_fail_the_run(engine, world, instance):
    sibling = world.sibling.scope
    with engine.begin() as conn:
        conn.execute(
            insert(assets).values(
                **sibling.as_params(), name="hand-entered", discovery_method="manual"
            )
        )
    result = measure_health(instance, sibling.partition_key)
    assert result.success
    checks = evaluations(result)
    failed = {name for name, e in checks.items() if not e.passed}
    assert failed == {"all_assets_missing_discovery_flow_id"}
    assert checks["all_assets_missing_discovery_flow_id"].severity == AssetCheckSeverity.WARN


def test_the_warn_check_clears_once_seen_and_fails_again_when_the_count_grows(
    engine, world, instance
):
    """Legitimate manual assets do not keep a partition yellow forever; a new one is news."""
    sibling = world.sibling.scope
    warn = "all_assets_missing_discovery_flow_id"

    def add_manual_asset(name: str) -> None:
        with engine.begin() as conn:
            conn.execute(
                insert(assets).values(**sibling.as_params(), name=name, discovery_method="manual")
            )

    def verdict():
        return evaluations(measure_health(instance, sibling.partition_key))[warn]

    add_manual_asset("hand-entered")
    first = verdict()
    assert not first.passed and first.metadata["previous_count"].value == 0
    again = verdict()
    assert again.passed, "an unchanged count was already seen: the check clears"
    assert again.metadata["count"].value == 1 and again.metadata["previous_count"].value == 1
    add_manual_asset("another by hand")
    grown = verdict()
    assert not grown.passed and grown.metadata["count"].value == 2
    assert verdict().passed


def test_checks_never_load_the_asset_through_an_io_manager():
    """The checks wait for the asset but read the tables: their only input carries nothing."""
    inputs = wiring_zero_orphan_checks.op.input_defs
    assert inputs and all(i.dagster_type.is_nothing for i in inputs)
    assert {key.asset_key for key in wiring_zero_orphan_checks.check_keys} == {WIRING_HEALTH_KEY}


def test_second_materialisation_reports_deltas(engine, world, instance):
    key = world.neighbour.scope.partition_key
    measure_health(instance, key)
    with engine.begin() as conn:
        conn.execute(
            insert(assets).values(
                **world.neighbour.scope.as_params(), name="lost", discovery_method="flow_based"
            )
        )
    result = measure_health(instance, key)
    (materialization,) = result.asset_materializations_for_node("wiring_health")
    metadata = materialization.metadata
    assert metadata["is_baseline"].value is False
    assert metadata["delta_vs_previous"].value["flow_based_assets_missing_discovery_flow_id"] == 1
    assert metadata["delta_vs_baseline"].value["all_assets_missing_discovery_flow_id"] == 1
