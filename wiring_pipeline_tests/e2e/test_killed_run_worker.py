"""A daemon-launched run whose worker is killed outright does not hold its partition's slot.

The run worker is SIGKILLed (as the kernel's OOM killer would) while its first step is in
its transaction. Dagster's code server sees the worker gone and fails the run; the
partition's next run is then launched instead of queueing behind a run that will never end.
"""

from __future__ import annotations

import json
import re

import psutil
import pytest
from dagster import DagsterRunStatus

from wiring_pipeline.defs.partitions import PARTITION_TAG
from wiring_pipeline.samples.cmdb_generator import CMDB_FIELD_MAPPINGS, iter_cmdb_rows, write_csv
from wiring_pipeline_tests.e2e.conftest import DISCOVERY_SENSORS, ensure_running
from wiring_pipeline_tests.e2e.dagster_stack import (
    RUN_EVENTS_QUERY,
    TERMINAL_RUN_STATUSES,
    DagsterStack,
)

pytestmark = pytest.mark.e2e

KEY = "e2e-client.killed-worker"
#: Rows enough that the run is still in its first step when the worker is killed.
ROWS = 60_000
_WORKER_PID = re.compile(r"Started process for run \(pid: (\d+)\)")


def worker_pid(stack: DagsterStack, run_id: str) -> int | None:
    events = stack.graphql(RUN_EVENTS_QUERY, {"runId": run_id})["logsForRun"].get("events", [])
    for event in events:
        match = _WORKER_PID.search(event.get("message") or "")
        if match:
            return int(match.group(1))
    return None


def kill_tree(pid: int) -> None:
    """SIGKILL the worker and its step processes, as an OOM kill of the pod would."""
    worker = psutil.Process(pid)
    for process in [*worker.children(recursive=True), worker]:
        process.kill()


def test_a_killed_run_worker_fails_its_run_and_frees_the_partition(stack, repository):
    ensure_running(stack, repository, DISCOVERY_SENSORS)
    files = stack.home / "killed-worker"
    files.mkdir(exist_ok=True)
    (files / "mappings.json").write_text(json.dumps(CMDB_FIELD_MAPPINGS), encoding="utf-8")
    write_csv(files / "big.csv", iter_cmdb_rows(seed=11, count=ROWS, prefix="kill"))
    stack.cli("tenant", "add", KEY)
    stack.cli("flow", "add", "--partition", KEY, "--mappings", str(files / "mappings.json"))
    flow_id = json.loads(stack.cli("flow", "list", "--partition", KEY))[0]["flow_id"]
    stack.cli("import", str(files / "big.csv"), "--partition", KEY, "--flow", flow_id)

    run = stack.wait_for(
        lambda: stack.newest_run("discovery_inventory_job", {PARTITION_TAG: KEY}),
        "pending_imports_sensor to launch the run",
    )
    pid = stack.wait_for(lambda: worker_pid(stack, run["runId"]), "the run worker's pid")
    assert stack.client().get_run_status(run["runId"]) not in TERMINAL_RUN_STATUSES
    kill_tree(pid)

    assert stack.wait_for_run(run["runId"]) == DagsterRunStatus.FAILURE
    # The slot is free: a run of the same partition is launched and finishes.
    after = stack.launch_asset_run(["wiring_health"], KEY)
    assert stack.wait_for_run(after) in TERMINAL_RUN_STATUSES
