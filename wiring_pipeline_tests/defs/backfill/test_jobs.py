"""`discovery_wiring_backfill` on an ephemeral instance: the dry run reports and changes
nothing, the execute repairs, and the sensor re-measures health only after an execute."""

from __future__ import annotations

import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    RunRequest,
    SkipReason,
    build_run_status_sensor_context,
)

from wiring_pipeline.definitions import defs
from wiring_pipeline.defs.backfill.jobs import BACKFILL_RUN_TAG, HEALTH_INLINE_TAG, OP_NAME
from wiring_pipeline.defs.backfill.sensors import wiring_health_after_backfill
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline_tests.support.legacy_fixture import (
    EXPECTED_HEALTH_AFTER,
    EXPECTED_REPAIRS,
    EXPECTED_UNREPAIRABLE,
    MAIN_KEY,
    build_legacy_world,
    dump,
    metrics,
)


@pytest.fixture()
def instance(engine):
    build_legacy_world(engine)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(tenant_engagements.name, [MAIN_KEY])
        yield instance


def backfill(instance, dry_run: bool, tags: dict | None = None):
    return defs.resolve_job_def("discovery_wiring_backfill").execute_in_process(
        run_config={"ops": {OP_NAME: {"config": {"dry_run": dry_run, "batch_size": 6}}}},
        instance=instance,
        partition_key=MAIN_KEY,
        tags=tags,
    )


def output_metadata(result) -> dict:
    (event,) = [e for e in result.events_for_node(OP_NAME) if e.is_successful_output]
    return {k: v.value for k, v in event.step_output_data.metadata.items()}


def sensor_outcome(instance, result):
    run = instance.get_run_by_id(result.run_id)
    success = next(e for e in result.all_events if e.event_type == DagsterEventType.RUN_SUCCESS)
    context = build_run_status_sensor_context(
        sensor_name=wiring_health_after_backfill.name,
        dagster_event=success,
        dagster_instance=instance,
        dagster_run=run,
    )
    return wiring_health_after_backfill(context)


def test_the_job_runs_with_dry_run_by_default(engine, instance):
    before = dump(engine)
    result = defs.resolve_job_def("discovery_wiring_backfill").execute_in_process(
        instance=instance, partition_key=MAIN_KEY
    )
    assert result.success
    assert output_metadata(result)["dry_run"] is True
    assert dump(engine) == before


def test_dry_run_metadata_counts_and_the_sensor_skips_it(engine, instance):
    before = dump(engine)

    result = backfill(instance, dry_run=True)

    assert result.success
    metadata = output_metadata(result)
    assert {name: metadata[name] for name in EXPECTED_REPAIRS} == EXPECTED_REPAIRS
    assert {name: metadata[name] for name in EXPECTED_UNREPAIRABLE} == EXPECTED_UNREPAIRABLE
    assert metadata["report"]["samples"]["relink_flow_ref"]
    assert dump(engine) == before
    skipped = sensor_outcome(instance, result)
    assert isinstance(skipped, SkipReason) and "dry run" in skipped.skip_message


def test_execute_repairs_and_the_sensor_requests_wiring_health(engine, instance):
    result = backfill(instance, dry_run=False)

    assert result.success
    assert output_metadata(result)["backfill_run_id"] == result.run_id
    assert metrics(engine, MAIN_KEY) == EXPECTED_HEALTH_AFTER
    request = sensor_outcome(instance, result)
    assert isinstance(request, RunRequest)
    assert request.partition_key == MAIN_KEY
    assert request.run_key == result.run_id
    assert request.tags[BACKFILL_RUN_TAG] == result.run_id

    health = defs.resolve_job_def("wiring_health_job").execute_in_process(
        instance=instance, partition_key=MAIN_KEY, raise_on_error=False
    )
    evaluations = {e.check_name: e.passed for e in health.get_asset_check_evaluations()}
    assert evaluations["assets_with_orphan_flow_ref"] is True
    assert evaluations["raw_records_with_orphan_asset_ref"] is True
    assert evaluations["asymmetric_links"] is False  # the counted link conflicts remain


def test_the_sensor_leaves_runs_that_measured_health_themselves(engine, instance):
    result = backfill(instance, dry_run=False, tags={HEALTH_INLINE_TAG: "inline"})
    skipped = sensor_outcome(instance, result)
    assert isinstance(skipped, SkipReason) and "re-measured health itself" in skipped.skip_message


def test_a_failing_partition_fails_only_its_own_run(engine, instance):
    instance.add_dynamic_partitions(tenant_engagements.name, ["ghost.nowhere"])
    job = defs.resolve_job_def("discovery_wiring_backfill")

    failed = job.execute_in_process(
        instance=instance, partition_key="ghost.nowhere", raise_on_error=False
    )
    succeeded = backfill(instance, dry_run=False)

    assert not failed.success
    assert succeeded.success
