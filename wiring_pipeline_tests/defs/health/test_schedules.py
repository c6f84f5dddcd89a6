"""The nightly schedule asks for one fleet-wide run, however many partitions; the per-partition
job (launched from the UI) still measures and checks its partition."""

from __future__ import annotations

from datetime import datetime, timezone

from dagster import RunRequest, SkipReason, build_schedule_context, instance_for_test

from wiring_pipeline.definitions import defs
from wiring_pipeline.defs.health.jobs import wiring_health_fleet_job, wiring_health_job
from wiring_pipeline.defs.health.schedules import nightly_wiring_health
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.contract.metrics import METRICS
from wiring_pipeline_tests.support.defects import build_defect_world

NIGHT = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)


def evaluate(instance, when=NIGHT):
    return nightly_wiring_health(
        build_schedule_context(instance=instance, scheduled_execution_time=when)
    )


def test_one_fleet_run_request_per_night_with_a_stable_run_key():
    with instance_for_test() as instance:
        assert isinstance(evaluate(instance), SkipReason)
        instance.add_dynamic_partitions(tenant_engagements.name, [f"t.e-{n}" for n in range(500)])
        request = evaluate(instance)
        assert isinstance(request, RunRequest)
        assert request.partition_key is None
        assert request.run_key == evaluate(instance).run_key
        assert request.run_key != evaluate(instance, NIGHT.replace(day=27)).run_key
        assert nightly_wiring_health.job_name == wiring_health_fleet_job.name


def test_the_per_partition_job_measures_and_checks_the_partition(engine):
    world = build_defect_world(engine)
    key = world.neighbour.scope.partition_key
    job = defs.resolve_job_def(wiring_health_job.name)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(tenant_engagements.name, [key])
        result = job.execute_in_process(instance=instance, partition_key=key)
    assert result.success
    assert len(result.asset_materializations_for_node("wiring_health")) == 1
    checks = result.get_asset_check_evaluations()
    assert sorted(e.check_name for e in checks) == sorted(m.name for m in METRICS)
    assert all(e.passed for e in checks)
