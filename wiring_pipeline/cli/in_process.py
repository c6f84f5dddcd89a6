"""Running the code location's jobs from the shell, in process, on the configured instance.

The command line (`run`, `backfill`, `constraints`, `demo`) goes through the same Dagster
jobs as the UI, so every run it makes is recorded on the PostgreSQL-backed instance and
shows in the UI with its checks, and the run id is the one the audit tables name.
"""

from __future__ import annotations

import os
import socket
import uuid
from contextlib import nullcontext

import psutil
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    ExecuteInProcessResult,
    RunsFilter,
)

from wiring_pipeline.cli.stage_progress import stage_progress
from wiring_pipeline.definitions import defs
from wiring_pipeline.defs.partitions import PARTITION_TAG, tenant_engagements
from wiring_pipeline.resources import embedded

#: Tags naming the process that executes a run in process, so a later command can tell
#: whether that run is still alive. The start time guards against a reused pid.
HOST_TAG, PID_TAG, STARTED_TAG = "wiring/host", "wiring/pid", "wiring/process_started"
_IN_PROGRESS = [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
_INTERRUPTED = "DagsterExecutionInterruptedError"


def run_in_process(
    job_name: str,
    partition_key: str | None = None,
    run_config: dict | None = None,
    tags: dict | None = None,
    show_progress: bool = False,
) -> ExecuteInProcessResult:
    """Run one job of the code location in this process, recorded on the configured instance.

    Adds the dynamic partition first if the sensor has not yet, and fails the partition's
    runs whose process died first (they would hold its one run slot forever). Failures are
    in the result, not raised; an interrupt (Ctrl-C) is raised as KeyboardInterrupt. The
    console stays quiet (WIRING_LOG_LEVEL turns Dagster's log on); the instance keeps every
    event, for the UI, and the commands print a one-line summary of what failed.
    `show_progress` shows the stages on stderr as they run.
    """
    level = os.environ.get("WIRING_LOG_LEVEL", "CRITICAL").upper()
    run_config = {"loggers": {"console": {"config": {"log_level": level}}}, **(run_config or {})}
    embedded.prepare_dagster_environment()
    with DagsterInstance.get() as instance:
        if partition_key is not None:
            if not instance.has_dynamic_partition(tenant_engagements.name, partition_key):
                instance.add_dynamic_partitions(tenant_engagements.name, [partition_key])
            fail_dead_runs(instance, partition_key)
        run_id = str(uuid.uuid4())
        with stage_progress(instance, run_id) if show_progress else nullcontext():
            result = defs.resolve_job_def(job_name).execute_in_process(
                run_config=run_config,
                instance=instance,
                partition_key=partition_key,
                tags={**(tags or {}), **this_process_tags()},
                raise_on_error=False,
                run_id=run_id,
            )
    if was_interrupted(result):
        raise KeyboardInterrupt(f"run {result.run_id} was interrupted")
    return result


def this_process_tags() -> dict[str, str]:
    me = psutil.Process()
    return {
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(me.pid),
        STARTED_TAG: repr(me.create_time()),
    }


def fail_dead_runs(instance: DagsterInstance, partition_key: str) -> list[str]:
    """Mark failed the partition's unfinished in-process runs whose process on this host is gone.

    A run killed with SIGKILL never records its end; the daemon's run monitoring cannot see
    an in-process run, so the next command on the partition does it. Runs of other hosts,
    and runs the daemon launched (no pid tag), are left to their owners.
    """
    records = instance.get_run_records(
        RunsFilter(statuses=_IN_PROGRESS, tags={PARTITION_TAG: partition_key})
    )
    failed = []
    for record in records:
        run = record.dagster_run
        if run.tags.get(HOST_TAG) == socket.gethostname() and not _process_alive(run):
            instance.report_run_failed(
                run,
                f"the process that ran it (pid {run.tags.get(PID_TAG)}) is gone; "
                "marked failed by wiring-pipeline (its transaction rolled back)",
            )
            failed.append(run.run_id)
    return failed


def _process_alive(run: DagsterRun) -> bool:
    try:
        process = psutil.Process(int(run.tags[PID_TAG]))
        return repr(process.create_time()) == run.tags.get(STARTED_TAG)
    except (KeyError, ValueError, psutil.NoSuchProcess):
        return False


def was_interrupted(result: ExecuteInProcessResult) -> bool:
    """True when Ctrl-C (SIGINT), which Dagster turns into a step or run failure, ended it."""
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if error is not None and error.cls_name == _INTERRUPTED:
            return True
    return False


def report_of(result: ExecuteInProcessResult, node: str) -> dict | None:
    """The JSON `report` metadata that a step attached to its output or materialisation."""
    for event in result.events_for_node(node):
        if event.is_successful_output:
            metadata = event.step_output_data.metadata
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            metadata = event.step_materialization_data.materialization.metadata
        else:
            continue
        if "report" in metadata:
            return metadata["report"].value
    return None


def failure_summary(result: ExecuteInProcessResult) -> str:
    """Which steps failed and which checks did not pass, for a one-line error."""
    steps = {
        e.step_key: _first_line(e.step_failure_data.error)
        for e in result.all_events
        if e.is_step_failure and e.step_key
    }
    checks = sorted(e.check_name for e in result.get_asset_check_evaluations() if not e.passed)
    parts = [f"failed step(s): {', '.join(sorted(steps))}"] if steps else []
    parts += [f"{step}: {reason}" for step, reason in sorted(steps.items()) if reason]
    if checks:
        parts.append(f"failed check(s): {', '.join(checks)}")
    return "; ".join(parts) or "see the run's logs"


def _first_line(error) -> str:
    """The error's own message, without Dagster's wrapping and stack."""
    cause = error
    while cause is not None and cause.cause is not None:
        cause = cause.cause
    lines = (cause.message if cause is not None else "").strip().splitlines()
    return lines[0] if lines else ""
