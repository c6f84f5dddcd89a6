"""The README's path, walked as a newcomer walks it: `demo --seed-only`, then `dev`.

No WIRING_HOME, no DAGSTER_HOME: the project folder (a copy) is the working directory, and
`wiring-pipeline dev` starts the webserver, the daemon and the code server in other
directories. They must all find the one embedded server under `./.wiring`: a sensor tick
that errors, or a second data directory, means some process resolved a path elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wiring_pipeline import settings
from wiring_pipeline.resources import embedded
from wiring_pipeline_tests.e2e.dagster_stack import (
    WAIT_SECONDS,
    DagsterStack,
    StackError,
    free_port,
    repository_selector,
)

pytestmark = pytest.mark.e2e

CLI = str(Path(sys.executable).with_name("wiring-pipeline"))
SENSORS = ("tenant_engagement_sensor", "pending_imports_sensor", "wiring_check_alert_sensor")
DEMO_PARTITIONS = {"acme.dc-exit", "acme.cloud-wave1", "globex.erp-move", "globex.dr-site"}

SENSOR_TICKS_QUERY = """
query SensorTicks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor {
      sensorState {
        status
        ticks(limit: 50) { status runIds error { message } }
      }
    }
  }
}
"""

SCHEDULE_STATE_QUERY = """
query ScheduleState($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) {
    __typename
    ... on Schedule { scheduleState { status } }
  }
}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project as a fresh clone has it: no .venv, no .wiring."""
    copy = tmp_path_factory.mktemp("newcomer") / "wiring_pipeline"
    shutil.copytree(
        settings.PROJECT_ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".wiring", "test-artifacts", "__pycache__", "*.egg-info"
        ),
    )
    return copy


@pytest.fixture(scope="module")
def user_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("WIRING_", "DAGSTER_"))}


@pytest.fixture(scope="module")
def dev_stack(project: Path, user_env: dict[str, str]) -> Iterator[DagsterStack]:
    seeded = subprocess.run(
        [CLI, "demo", "--seed-only"],
        cwd=project,
        env=user_env,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )
    assert seeded.returncode == 0, seeded.stderr
    home = project / ".wiring"
    server = embedded.EmbeddedServer(pgdata=home / "pgdata", socket_dir="")
    stack = DagsterStack(home=home, port=free_port(), env=user_env, server=server)
    try:
        stack.launch([CLI, "dev", "--port", str(stack.port)], cwd=project)
        yield stack
    finally:
        teardown = stack.stop()
    assert teardown.clean, f"the stack left things behind: {teardown}"


def sensor_state(stack: DagsterStack, name: str) -> dict:
    data = stack.graphql(
        SENSOR_TICKS_QUERY, {"selector": {**repository_selector(), "sensorName": name}}
    )
    sensor = data["sensorOrError"]
    if sensor["__typename"] != "Sensor":
        raise StackError(f"no sensor {name!r}: {sensor}")
    return sensor["sensorState"]


def failed_ticks(stack: DagsterStack) -> dict[str, list[str]]:
    return {
        name: [t["error"]["message"] for t in sensor_state(stack, name)["ticks"] if t["error"]]
        for name in SENSORS
    }


def test_dev_after_demo_runs_every_sensor_on_the_one_embedded_database(dev_stack, project):
    def every_sensor_ticked_and_runs_were_requested() -> bool:
        errors = {name: messages for name, messages in failed_ticks(dev_stack).items() if messages}
        if errors:  # fail at once, with the daemon's own words
            raise StackError(f"sensor ticks failed: {errors}\n{dev_stack.log_tail()}")
        states = {name: sensor_state(dev_stack, name) for name in SENSORS}
        ticked = all(
            any(t["status"] != "STARTED" for t in state["ticks"]) for state in states.values()
        )
        requested = any(t["runIds"] for t in states["pending_imports_sensor"]["ticks"])
        return ticked and requested

    dev_stack.wait_for(every_sensor_ticked_and_runs_were_requested, "the sensors' first ticks")
    time.sleep(35)  # one more tick of each sensor, as a user would watch the daemon log

    assert failed_ticks(dev_stack) == {name: [] for name in SENSORS}, dev_stack.log_tail()
    assert set(dev_stack.partition_keys("raw_import_records")) == DEMO_PARTITIONS
    assert [p.relative_to(project) for p in project.rglob("pgdata")] == [Path(".wiring/pgdata")]
    assert not (project / ".wiring" / "dagster" / ".wiring").exists()


def test_alerts_and_the_nightly_pass_run_without_a_manual_toggle(dev_stack):
    assert sensor_state(dev_stack, "wiring_check_alert_sensor")["status"] == "RUNNING"
    data = dev_stack.graphql(
        SCHEDULE_STATE_QUERY,
        {"selector": {**repository_selector(), "scheduleName": "nightly_wiring_health"}},
    )
    assert data["scheduleOrError"]["scheduleState"]["status"] == "RUNNING"
