"""The user's path through the real webserver and daemon, asserted through the GraphQL API.

The steps themselves are session fixtures in conftest.py (they run once, in order of
dependency); each test here checks what one step must have produced.
"""

from __future__ import annotations

import pytest
from dagster import DagsterRunStatus

from wiring_pipeline.defs.health.alerts import read_alerts
from wiring_pipeline.defs.partitions import PARTITION_TAG
from wiring_pipeline.domain.contract.metrics import METRICS, METRICS_BY_NAME
from wiring_pipeline_tests.e2e.conftest import (
    ALERT_SENSOR,
    BACKFILL_SENSOR,
    BROKEN_CHECK,
    DISCOVERY_SENSORS,
    IMPORT_ROWS,
    BackfillRun,
    BrokenPartition,
    SensorLaunchedRun,
    check_names,
    execution_in_run,
)
from wiring_pipeline_tests.e2e.dagster_stack import (
    DagsterStack,
    WebhookReceiver,
    port_is_free,
    running_stack,
)

pytestmark = [
    pytest.mark.e2e,
    # Raised inside dagster-graphql's own client by the gql version it pulls in.
    pytest.mark.filterwarnings("ignore:Using variable_values:DeprecationWarning"),
]

CONTRACT = {
    "assets": {"raw_import_records", "cleansed_import_records", "asset_inventory", "wiring_health"},
    "jobs": {"discovery_inventory_job", "discovery_wiring_backfill", "wiring_constraints_job"},
    "sensors": {*DISCOVERY_SENSORS, ALERT_SENSOR, BACKFILL_SENSOR},
    "schedules": {"nightly_wiring_health"},
}


def test_a_failing_step_still_tears_the_whole_stack_down(tmp_path):
    with pytest.raises(RuntimeError, match="a step failed"):
        with running_stack(tmp_path / "home") as doomed:
            raise RuntimeError("a step failed")
    teardown = doomed.teardown
    assert teardown is not None and teardown.clean, teardown
    stopped = "\n".join(teardown.stopped_processes)
    for part in ("dagster dev", "dagster_webserver", "dagster._daemon", "code-server", "postgres"):
        assert part in stopped, f"{part!r} was not among the stopped processes:\n{stopped}"
    assert doomed.process.poll() is not None
    assert port_is_free(doomed.port)


def test_code_location_loads_with_every_contract_object(repository: dict):
    shown = {
        "assets": {"/".join(node["assetKey"]["path"]) for node in repository["assetNodes"]},
        "jobs": {job["name"] for job in repository["jobs"]},
        "sensors": {sensor["name"] for sensor in repository["sensors"]},
        "schedules": {schedule["name"] for schedule in repository["schedules"]},
    }
    missing = {kind: sorted(CONTRACT[kind] - shown[kind]) for kind in CONTRACT}
    assert not any(missing.values()), f"not in the code location: {missing}"
    assert check_names(repository, "wiring_health") == sorted(m.name for m in METRICS)


def test_sensors_add_the_partition_and_run_the_cli_registered_import(
    stack: DagsterStack, inventory_run: SensorLaunchedRun
):
    tags = {tag["key"]: tag["value"] for tag in inventory_run.run["tags"]}
    assert tags.get("dagster/sensor_name") == "pending_imports_sensor"
    assert tags.get(PARTITION_TAG) == inventory_run.partition_key
    assert inventory_run.status == DagsterRunStatus.SUCCESS, stack.run_failure_summary(
        inventory_run.run["runId"]
    )
    counts = inventory_run.counts
    assert counts["raw_records"] == IMPORT_ROWS, counts
    assert counts["linked"] + counts["rejected"] == IMPORT_ROWS, counts
    assert counts["assets"] == counts["linked"] > 0, counts
    for metric in METRICS:
        execution = execution_in_run(
            stack, metric.name, inventory_run.partition_key, inventory_run.run["runId"]
        )
        assert execution["status"] == "SUCCEEDED", (metric.name, execution)


def test_backfill_run_repairs_the_partition_and_every_check_passes(
    stack: DagsterStack, backfill_run: BackfillRun
):
    assert backfill_run.health_status == DagsterRunStatus.SUCCESS, stack.run_failure_summary(
        backfill_run.health_run_id
    )
    health = backfill_run.health_after
    assert health.health_status == "healthy", health.metrics
    assert set(health.metrics.values()) == {0}, health.metrics
    for metric in METRICS:
        execution = execution_in_run(
            stack, metric.name, backfill_run.partition_key, backfill_run.health_run_id
        )
        assert execution["status"] == "SUCCEEDED", (metric.name, execution)


def test_broken_wiring_shows_a_failed_check_in_the_api(
    stack: DagsterStack, broken_partition: BrokenPartition
):
    # A blocking ERROR check that fails fails the run that evaluated it.
    assert broken_partition.status == DagsterRunStatus.FAILURE
    execution = execution_in_run(
        stack, BROKEN_CHECK, broken_partition.partition_key, broken_partition.run_id
    )
    assert execution["status"] == "FAILED"
    evaluation = execution["evaluation"]
    assert evaluation["success"] is False
    assert evaluation["severity"] == METRICS_BY_NAME[BROKEN_CHECK].severity
    assert evaluation["partition"] == broken_partition.partition_key
    numbers = {
        entry["label"]: entry.get("intValue")
        for entry in evaluation["metadataEntries"]
        if entry["__typename"] == "IntMetadataEntry"
    }
    assert numbers.get("count") == 1, evaluation["metadataEntries"]


def test_broken_wiring_alerts_in_the_file_and_at_the_webhook(
    stack: DagsterStack, webhook: WebhookReceiver, broken_partition: BrokenPartition
):
    def matching(alerts: list[dict]) -> list[dict]:
        return [
            alert
            for alert in alerts
            if alert.get("partition") == broken_partition.partition_key
            and alert.get("check") == BROKEN_CHECK
            and alert.get("run_id") == broken_partition.run_id
        ]

    alerts_file = stack.home / "alerts.jsonl"
    in_file = stack.wait_for(
        lambda: matching(read_alerts(alerts_file)),
        f"wiring_check_alert_sensor to write the {BROKEN_CHECK} alert to {alerts_file}",
    )
    at_webhook = stack.wait_for(
        lambda: matching(webhook.payloads()),
        f"wiring_check_alert_sensor to POST the {BROKEN_CHECK} alert to the webhook",
    )
    assert len(in_file) == 1 and len(at_webhook) == 1
    alert = in_file[0]
    assert alert == at_webhook[0]
    assert alert["severity"] == METRICS_BY_NAME[BROKEN_CHECK].severity
    assert alert["count"] == 1
    # The alert says which row is wrong, not only how many.
    assert [sample["id"] for sample in alert["samples"]] == [
        str(broken_partition.broken_raw_record_id)
    ]
