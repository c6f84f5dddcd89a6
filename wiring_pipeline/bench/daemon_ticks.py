"""One daemon tick of a sensor or a schedule, timed with the daemon's own code.

`dagster-daemon` evaluates sensors and schedules through the code server (gRPC, with its
60 s limit), then acts on the result itself: it checks and adds dynamic partitions, looks
up run keys, creates and submits runs. A timing of the sensor function alone misses most of
that, so the benchmark drives the daemon's iteration functions against a real
PostgreSQL-backed instance and a code server started as the daemon starts one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.scheduler.instigation import InstigatorState, InstigatorStatus
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)
from dagster._daemon.sensor import execute_sensor_iteration
from dagster._scheduler.scheduler import launch_scheduled_runs

LOGGER = logging.getLogger("wiring_pipeline.bench.daemon")
CODE_LOCATION = "wiring_pipeline"
#: A launched run that has not finished by then is reported as such.
RUN_TIMEOUT_SECONDS = 30 * 60


@dataclass(frozen=True)
class Tick:
    """What one tick took and did."""

    seconds: float
    status: str
    run_ids: tuple[str, ...]
    partitions_added: int
    error: str | None

    def as_json(self) -> dict:
        return {
            "seconds": round(self.seconds, 3),
            "status": self.status,
            "runs": len(self.run_ids),
            "partitions_added": self.partitions_added,
            "error": self.error,
        }


@contextmanager
def daemon_workspace(instance: DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    """The project's code location behind a code server, as the daemon loads it."""
    target = ModuleTarget(
        module_name="wiring_pipeline.definitions",
        attribute=None,
        working_directory=None,
        location_name=CODE_LOCATION,
    )
    with create_test_daemon_workspace_context(target, instance) as context:
        yield context


def _repository(context: WorkspaceProcessContext):
    entry = context.create_request_context().get_code_location_entries()[CODE_LOCATION]
    if entry.code_location is None:
        raise RuntimeError(f"the code location did not load: {entry.load_error}")
    [repository] = entry.code_location.get_repositories().values()
    return repository


def _only_running(instance: DagsterInstance, repository, name: str) -> object:
    """Stop every sensor but `name`, so one daemon iteration ticks that sensor alone."""
    chosen = None
    for sensor in repository.get_sensors():
        origin = sensor.get_remote_origin()
        status = InstigatorStatus.RUNNING if sensor.name == name else InstigatorStatus.STOPPED
        state = instance.get_instigator_state(origin.get_id(), sensor.selector_id)
        if state is None:
            instance.add_instigator_state(
                InstigatorState(origin, InstigatorType.SENSOR, status, None)
            )
        else:
            instance.update_instigator_state(state.with_status(status))
        if sensor.name == name:
            chosen = sensor
    if chosen is None:
        raise ValueError(f"no sensor {name!r} in the code location")
    return chosen


def _last_tick(instance: DagsterInstance, instigator, started: float) -> Tick:
    [tick] = instance.get_ticks(
        instigator.get_remote_origin().get_id(), instigator.selector_id, limit=1
    )
    data = tick.tick_data
    added = sum(
        len(result.added_partitions or []) for result in data.dynamic_partitions_request_results
    )
    return Tick(
        seconds=time.perf_counter() - started,
        status=tick.status.value,
        run_ids=tuple(tick.run_ids),
        partitions_added=added,
        error=data.error.message.strip() if data.error else None,
    )


def sensor_tick(context: WorkspaceProcessContext, name: str) -> Tick:
    """One `dagster-daemon` sensor iteration with only sensor `name` running."""
    instance = context.instance
    sensor = _only_running(instance, _repository(context), name)
    started = time.perf_counter()
    list(execute_sensor_iteration(context, LOGGER, None, None))
    return _last_tick(instance, sensor, started)


def schedule_tick(context: WorkspaceProcessContext, name: str, cron_hour: int = 2) -> Tick:
    """The schedule's next tick at `cron_hour` UTC, as the scheduler daemon runs it then."""
    schedule = _repository(context).get_schedule(name)
    now = datetime.now(timezone.utc)
    # The first iteration records the schedule as running from now, the second reaches the
    # tick just after the next `cron_hour`:00.
    list(launch_scheduled_runs(context, LOGGER, now, {}))
    due = now.replace(hour=cron_hour, minute=0, second=30, microsecond=0)
    if due <= now:
        due += timedelta(days=1)
    started = time.perf_counter()
    list(launch_scheduled_runs(context, LOGGER, due, {}))
    return _last_tick(context.instance, schedule, started)


def launch_queued_runs(context: WorkspaceProcessContext, run_ids: list[str]) -> dict:
    """Dequeue and launch runs as the run queue daemon does; wait for them to finish."""
    instance = context.instance
    started = time.perf_counter()
    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(context))
    pending = set(run_ids)
    statuses: dict[str, str] = {}
    while pending and time.perf_counter() - started < RUN_TIMEOUT_SECONDS:
        for run_id in list(pending):
            run = instance.get_run_by_id(run_id)
            if run is not None and run.is_finished:
                statuses[run_id] = run.status.value
                pending.discard(run_id)
        time.sleep(1)
    statuses.update({run_id: "timed out" for run_id in pending})
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "statuses": statuses,
        "succeeded": all(s == DagsterRunStatus.SUCCESS.value for s in statuses.values()),
    }
