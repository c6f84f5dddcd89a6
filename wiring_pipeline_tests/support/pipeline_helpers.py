"""Shared by the pipeline's tests: register files, run the stages, measure health, dump tables."""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterInstance, ExecuteInProcessResult, build_sensor_context, materialize
from sqlalchemy import Engine, text

from wiring_pipeline import settings
from wiring_pipeline.db.import_loading import load_pending_imports
from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.defs.health.alerts import read_alerts
from wiring_pipeline.defs.health.assets import wiring_health
from wiring_pipeline.defs.health.checks import wiring_zero_orphan_checks
from wiring_pipeline.defs.health.sensors import wiring_check_alert_sensor
from wiring_pipeline.domain.cleansing.records import cleanse_open_records
from wiring_pipeline.domain.core.schema import metadata
from wiring_pipeline.domain.core.tenancy import TenantScope
from wiring_pipeline.domain.ingest.registry import register_import
from wiring_pipeline.domain.inventory.build import build_inventory
from wiring_pipeline.resources import WiringDatabase


def register(
    engine: Engine,
    scope: TenantScope,
    flow: dict,
    path: Path,
    sheet_name: str | None = None,
    **options,
) -> dict:
    with engine.begin() as conn:
        return register_import(
            conn, scope, flow, path, path.parent / "imports", sheet_name=sheet_name, **options
        )


def run_stages(engine: Engine, key: str):
    """The three stages, each in its own unit of work, as the Dagster assets run them."""
    with partition_transaction(engine, key) as work:
        loaded = load_pending_imports(work.conn, work.scope)
    with partition_transaction(engine, key) as work:
        cleansed = cleanse_open_records(work.conn, work.scope)
    with partition_transaction(engine, key) as work:
        inventory = build_inventory(work.conn, work.scope)
    return loaded, cleansed, inventory


def stage_until_inventory(engine: Engine, key: str) -> None:
    """Load and cleanse (committed), leaving only the inventory step to run."""
    with partition_transaction(engine, key) as work:
        load_pending_imports(work.conn, work.scope)
        cleanse_open_records(work.conn, work.scope)


def measure_health(
    instance: DagsterInstance, partition_key: str, selection=None
) -> ExecuteInProcessResult:
    """Materialize `wiring_health` and its checks; a failed blocking check fails, not raises."""
    return materialize(
        [wiring_health, wiring_zero_orphan_checks],
        instance=instance,
        partition_key=partition_key,
        resources={"wiring_db": WiringDatabase()},
        raise_on_error=False,
        selection=selection,
    )


def dump_tables(engine: Engine, tables=None) -> dict[str, list[str]]:
    """Every row of every table (or of `tables`) as text, sorted: equal dumps, equal data."""
    names = tables or [table.name for table in metadata.sorted_tables]
    with engine.connect() as conn:
        return {
            name: list(
                conn.execute(text(f"SELECT t::text FROM migration.{name} t ORDER BY 1")).scalars()
            )
            for name in names
        }


def tick_alert_sensor(instance: DagsterInstance, cursor: str | None) -> str:
    """One tick of `wiring_check_alert_sensor`; returns its new cursor."""
    result = wiring_check_alert_sensor(build_sensor_context(instance=instance, cursor=cursor))
    return result.cursor


def stored_alerts() -> list[dict]:
    """Every alert in `alerts.jsonl`, oldest first."""
    return read_alerts(settings.alerts_file())
