"""The nightly schedule asks for one wiring_health run per partition; the job carries the checks."""

from __future__ import annotations

from datetime import datetime, timezone

from dagster import RunRequest, SkipReason, build_schedule_context, instance_for_test

from wiring_pipeline.definitions import defs
from wiring_pipeline.defs.health.schedules import nightly_wiring_health
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.health import METRICS
from wiring_pipeline_tests.defects import build_defect_world

NIGHT = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)


def evaluate(instance, when=NIGHT):
    return nightly_wiring_health(
        build_schedule_context(instance=instance, scheduled_execution_time=when)
    )


def test_one_run_request_per_partition_with_stable_run_keys():
    with instance_for_test() as instance:
        assert isinstance(evaluate(instance), SkipReason)
        instance.add_dynamic_partitions(tenant_engagements.name, ["b.two", "a.one"])
        requests = evaluate(instance)
        assert all(isinstance(r, RunRequest) for r in requests)
        assert [r.partition_key for r in requests] == ["a.one", "b.two"]
        assert [r.run_key for r in requests] == [r.run_key for r in evaluate(instance)]
        next_night = evaluate(instance, NIGHT.replace(day=27))
        assert not {r.run_key for r in requests} & {r.run_key for r in next_night}


def test_the_scheduled_job_measures_and_checks_the_partition(engine):
    world = build_defect_world(engine)
    key = world.neighbour.scope.partition_key
    job = defs.resolve_job_def(nightly_wiring_health.job_name)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(tenant_engagements.name, [key])
        result = job.execute_in_process(instance=instance, partition_key=key)
    assert result.success
    assert len(result.asset_materializations_for_node("wiring_health")) == 1
    checks = result.get_asset_check_evaluations()
    assert sorted(e.check_name for e in checks) == sorted(m.name for m in METRICS)
    assert all(e.passed for e in checks)
