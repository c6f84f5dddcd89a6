"""Ctrl-C and SIGKILL in the middle of a run: one line, exit 130, and no run left hanging.

The commands run as real processes here, because signals are what is tested.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from sqlalchemy import text

from wiring_pipeline.cli.common import EXIT_INTERRUPTED, INTERRUPTED_MESSAGE
from wiring_pipeline.cli.in_process import fail_dead_runs, this_process_tags
from wiring_pipeline.cli.main import cli
from wiring_pipeline.defs.partitions import PARTITION_TAG
from wiring_pipeline.resources import embedded
from wiring_pipeline.samples import cmdb_generator as gen
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.pipeline_helpers import register

CLI = str(Path(sys.executable).with_name("wiring-pipeline"))
#: Rows enough that the run is still in its first steps when the signal arrives.
ROWS = 60_000


@pytest.fixture()
def instance(engine):
    embedded.prepare_dagster_environment()  # the instance the CLI's runs are recorded on
    with DagsterInstance.get() as instance:
        yield instance


def pending_partition(engine, tmp_path: Path, key: str) -> None:
    scope = make_tenant(engine, key)
    path = tmp_path / "cmdb.csv"
    gen.write_csv(path, gen.iter_cmdb_rows(7, ROWS))
    register(engine, scope, make_flow(engine, scope), path)


def runs_of(instance: DagsterInstance, key: str, *statuses: DagsterRunStatus) -> list[DagsterRun]:
    records = instance.get_run_records(
        RunsFilter(tags={PARTITION_TAG: key}, statuses=list(statuses) or None)
    )
    return [r.dagster_run for r in records]


def start_run_and_wait_until_started(instance, key: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [CLI, "run", "--partition", key],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not runs_of(instance, key, DagsterRunStatus.STARTED):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.1)
    time.sleep(0.5)  # inside the first step's transaction
    return process


def test_ctrl_c_during_run_prints_one_line_and_exits_130(engine, instance, tmp_path):
    key = "acme.interrupted"
    pending_partition(engine, tmp_path, key)
    process = start_run_and_wait_until_started(instance, key)

    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)

    assert process.returncode == EXIT_INTERRUPTED, stderr
    assert stderr.strip() == INTERRUPTED_MESSAGE
    assert "Traceback" not in stdout + stderr
    with engine.connect() as conn:  # the interrupted step rolled back: no half-built inventory
        linked = conn.execute(
            text("SELECT count(*) FROM migration.raw_import_records WHERE asset_id IS NOT NULL")
        ).scalar()
    assert linked == 0


def test_a_sigkilled_run_is_failed_by_the_next_command_on_its_partition(engine, instance, tmp_path):
    key = "acme.killed"
    pending_partition(engine, tmp_path, key)
    process = start_run_and_wait_until_started(instance, key)
    process.kill()
    process.communicate(timeout=60)
    (stuck,) = runs_of(instance, key, DagsterRunStatus.STARTED)

    result = CliRunner().invoke(cli, ["run", "--partition", key], catch_exceptions=False)

    # The run succeeds; it exits 1 only because the generated export has rows that cannot
    # become assets (missing critical fields), which `run` must say.
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().endswith("source rows did not reach the inventory")
    assert json.loads(result.stdout)["health_status"] == "healthy"
    assert instance.get_run_by_id(stuck.run_id).status == DagsterRunStatus.FAILURE
    assert not runs_of(instance, key, DagsterRunStatus.STARTED)


def test_only_dead_in_process_runs_of_this_host_are_failed(instance):
    key = "acme.reaper"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = this_process_tags()
    dead_tags = {**alive, "wiring/pid": str(dead.pid)}
    other_host = {**dead_tags, "wiring/host": "some-other-host"}
    daemon_run: dict[str, str] = {}  # launched by the daemon: no process tags
    runs = {}
    for name, tags in [
        ("dead", dead_tags),
        ("alive", alive),
        ("other_host", other_host),
        ("daemon", daemon_run),
    ]:
        run = DagsterRun(
            job_name="discovery_inventory_job",
            status=DagsterRunStatus.STARTED,
            tags={PARTITION_TAG: key, **tags},
        )
        runs[name] = instance.add_run(run).run_id

    assert fail_dead_runs(instance, key) == [runs["dead"]]
    statuses = {name: instance.get_run_by_id(run_id).status for name, run_id in runs.items()}
    assert statuses == {
        "dead": DagsterRunStatus.FAILURE,
        "alive": DagsterRunStatus.STARTED,
        "other_host": DagsterRunStatus.STARTED,
        "daemon": DagsterRunStatus.STARTED,
    }


def test_a_file_name_that_is_not_utf8_imports_without_a_traceback(engine, tmp_path):
    scope = make_tenant(engine, "acme.share")
    make_flow(engine, scope, flow_name="cmdb")
    name = os.fsdecode(b"Export_M\xfcller.csv")  # Windows-1252 bytes from a Windows share
    path = tmp_path / name
    gen.write_csv(path, gen.iter_cmdb_rows(3, 5))

    done = subprocess.run(
        [CLI, "import", os.fsencode(str(path)), "--partition", "acme.share", "--flow", "cmdb"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads(done.stdout)["filename"] == "Export_Müller.csv"
