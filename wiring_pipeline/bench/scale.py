"""`wiring-pipeline bench --tenants N`: the daemon's ticks, the nightly pass and `health --all`
at N engagements (DESIGN 4b).

Runs on two throwaway databases of the configured server (the application's and the
Dagster instance's, with the project's dagster.yaml), dropped afterwards unless kept. The
code location is served by a code server started as `dagster-daemon` starts one, and every
tick is one iteration of the daemon's own sensor, scheduler or run-queue code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from dagster import DagsterInstance, TableMetadataValue
from sqlalchemy import create_engine, make_url

from wiring_pipeline import settings
from wiring_pipeline.bench import daemon_ticks
from wiring_pipeline.bench.environment import machine_info, throwaway_database
from wiring_pipeline.bench.runner import BenchError
from wiring_pipeline.bench.scale_seed import seed_engagements
from wiring_pipeline.db import engines
from wiring_pipeline.defs.health.alerts import read_alerts
from wiring_pipeline.defs.health.fleet_assets import WIRING_HEALTH_FLEET_KEY
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.core.tenancy import list_partition_keys
from wiring_pipeline.resources import embedded

PENDING_IMPORTS = 1_000
#: DESIGN 4b's targets at 10 000 engagements, in seconds (and runs).
TARGETS = {
    "sensor_tick_seconds_max": 10.0,
    "pending_imports_tick_seconds_max": 5.0,
    "schedule_tick_seconds_max": 30.0,
    "schedule_tick_runs_max": 20,
    "nightly_pass_seconds_max": 600.0,
    "health_all_seconds_max": 15.0,
}
SENSORS = (
    "tenant_engagement_sensor",
    "pending_imports_sensor",
    "wiring_check_alert_sensor",
    "wiring_health_after_backfill",
)
STEPS = 9

Progress = Callable[[str], None]


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Point this process and the processes it starts (code server, run workers) elsewhere."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _instance(home: Path) -> DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    return DagsterInstance.from_config(str(home))


def _health_all(url: str) -> dict:
    """`wiring-pipeline health --all --format jsonl` as a user runs it, start-up included."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("wiring-pipeline")),
            "health",
            "--all",
            "--format",
            "jsonl",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "WIRING_DATABASE_URL": url},
        check=False,
    )
    lines = done.stdout.splitlines()
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "exit_code": done.returncode,
        "lines": len(lines),
        "unhealthy": sum(json.loads(line)["health_status"] == "unhealthy" for line in lines),
        "stderr": done.stderr.strip()[-500:] or None,
    }


def run_scale_bench(
    tenants: int,
    *,
    base_url: str | None = None,
    keep: bool = False,
    progress: Progress | None = None,
) -> dict:
    """Seed `tenants` engagements and time every tick, the nightly pass and `health --all`."""
    if tenants < 1:
        raise BenchError(f"--tenants must be at least 1, got {tenants}")
    progress = progress or (lambda _label: None)
    base_url = base_url or embedded.application_database_url()
    with ExitStack() as stack:
        app_url = stack.enter_context(throwaway_database(base_url, keep))
        dagster_url = stack.enter_context(throwaway_database(base_url, keep))
        workdir = settings.wiring_home() / "bench" / make_url(app_url).database
        workdir.mkdir(parents=True, exist_ok=True)
        if not keep:
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        storage = make_url(dagster_url).set(drivername="postgresql+psycopg2")
        stack.enter_context(
            _environment(
                WIRING_DATABASE_URL=app_url,
                WIRING_DAGSTER_STORAGE_URL=storage.render_as_string(hide_password=False),
                WIRING_HOME=str(workdir),
                DAGSTER_HOME=str(workdir / "dagster"),
            )
        )
        engine = create_engine(app_url)
        stack.callback(engine.dispose)
        figures = _run(tenants, app_url, engine, workdir, progress)
        figures["databases"] = {
            "application": make_url(app_url).database,
            "dagster": make_url(dagster_url).database,
            "kept": keep,
        }
    return figures


def _run(tenants: int, app_url: str, engine, workdir: Path, progress: Progress) -> dict:
    progress("migrate and seed")
    engines.upgrade(engine)
    started = time.perf_counter()
    with engine.begin() as conn:
        seed = seed_engagements(conn, tenants, PENDING_IMPORTS)
        machine = machine_info(conn)
    seed_seconds = time.perf_counter() - started
    with engine.connect() as conn:
        keys = list_partition_keys(conn)

    ticks: dict[str, dict] = {}
    with (
        _instance(workdir / "dagster") as instance,
        daemon_ticks.daemon_workspace(instance) as context,
    ):
        progress("tick: tenant_engagement_sensor (all new)")
        first = daemon_ticks.sensor_tick(context, "tenant_engagement_sensor")
        ticks["tenant_engagement_sensor"] = first.as_json()
        remaining = len(keys) - first.partitions_added
        ticks["tenant_engagement_sensor"]["ticks_to_onboard_all"] = (
            1 + -(-remaining // first.partitions_added) if first.partitions_added else None
        )
        known = set(instance.get_dynamic_partitions(tenant_engagements.name))
        instance.add_dynamic_partitions(
            tenant_engagements.name, [k for k in keys if k not in known]
        )

        progress("tick: nightly_wiring_health schedule")
        nightly_tick = daemon_ticks.schedule_tick(context, "nightly_wiring_health")
        ticks["nightly_wiring_health"] = nightly_tick.as_json()
        progress("nightly pass: launch and run")
        runs = daemon_ticks.launch_queued_runs(context, list(nightly_tick.run_ids))
        progress("tick: wiring_check_alert_sensor")
        alert_tick = daemon_ticks.sensor_tick(context, "wiring_check_alert_sensor")
        ticks["wiring_check_alert_sensor"] = alert_tick.as_json()
        alerted = _alerted_partitions(settings.alerts_file())
        nightly = {
            "seconds_end_to_end": round(
                nightly_tick.seconds + runs["seconds"] + alert_tick.seconds, 3
            ),
            "runs": runs,
            "fleet_materialization": _fleet_metadata(instance),
            "partitions_alerted": len(alerted),
        }

        progress("tick: pending_imports_sensor")
        ticks["pending_imports_sensor"] = daemon_ticks.sensor_tick(
            context, "pending_imports_sensor"
        ).as_json()
        progress("tick: wiring_health_after_backfill")
        ticks["wiring_health_after_backfill"] = daemon_ticks.sensor_tick(
            context, "wiring_health_after_backfill"
        ).as_json()

    progress("health --all --format jsonl")
    health_all = _health_all(app_url)
    progress("done")
    machine["load_average_at_end"] = os.getloadavg()
    return {
        "tenants": tenants,
        "broken_partitions": seed.broken,
        "pending_imports": seed.pending_imports,
        "seed_seconds": round(seed_seconds, 3),
        "machine": machine,
        "ticks": ticks,
        "nightly_pass": nightly,
        "health_all": health_all,
        "targets": _targets(ticks, nightly, health_all, seed.broken),
    }


def _alerted_partitions(path: Path) -> set[str]:
    return {alert["partition"] for alert in read_alerts(path)}


def _fleet_metadata(instance: DagsterInstance) -> dict:
    event = instance.get_latest_materialization_event(WIRING_HEALTH_FLEET_KEY)
    if event is None or event.asset_materialization is None:
        return {}
    # Tables repeat a JSON value for the UI and do not serialise; the figures keep the JSON.
    return {
        name: value.value
        for name, value in event.asset_materialization.metadata.items()
        if not isinstance(value, TableMetadataValue)
    }


def _target(value, limit, *, at_most: bool = True) -> dict:
    met = value is not None and (value <= limit if at_most else value >= limit)
    return {"value": value, "target": f"<= {limit}" if at_most else f">= {limit}", "met": met}


def _targets(ticks: dict, nightly: dict, health_all: dict, broken: int) -> dict:
    targets = {
        f"{name}_tick_seconds": _target(
            tick["seconds"],
            TARGETS[
                "pending_imports_tick_seconds_max"
                if name == "pending_imports_sensor"
                else "schedule_tick_seconds_max"
                if name == "nightly_wiring_health"
                else "sensor_tick_seconds_max"
            ],
        )
        for name, tick in ticks.items()
    }
    targets["nightly_wiring_health_tick_runs"] = _target(
        ticks["nightly_wiring_health"]["runs"], TARGETS["schedule_tick_runs_max"]
    )
    targets["nightly_pass_seconds"] = _target(
        nightly["seconds_end_to_end"], TARGETS["nightly_pass_seconds_max"]
    )
    targets["nightly_pass_runs_succeeded"] = {
        "value": nightly["runs"]["succeeded"],
        "target": "true",
        "met": nightly["runs"]["succeeded"],
    }
    targets["broken_partitions_alerted_in_one_pass"] = _target(
        nightly["partitions_alerted"], broken, at_most=False
    )
    targets["health_all_seconds"] = _target(
        health_all["seconds"], TARGETS["health_all_seconds_max"]
    )
    return targets
