"""The code location loads, and dagster.yaml gives a PostgreSQL-backed instance."""

from __future__ import annotations

import shutil

from dagster import DagsterInstance, Definitions, job, op
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from wiring_pipeline import definitions, settings
from wiring_pipeline.definitions import defs


def test_definitions_load():
    repository = defs.get_repository_def()
    assert repository is not None
    assert "wiring_db" in defs.resources


@op
def return_one(context) -> int:
    return 1


@job
def tiny_job():
    return_one()


def test_project_dagster_yaml_gives_a_postgres_instance(server_urls, tmp_path):
    shutil.copyfile(settings.PROJECT_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert {
            "key": "dagster/partition",
            "value": {"applyLimitPerUniqueValue": True},
            "limit": 1,
        } in limits
        result = tiny_job.execute_in_process(instance=instance)
        assert result.success
        stored = instance.get_run_by_id(result.run_id)
        assert stored is not None and stored.is_success


def test_table_assets_carry_their_table_name_and_columns_for_the_catalog():
    """The catalog shows each table and its columns before any run."""
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    expected = {
        "raw_import_records": "migration.raw_import_records",
        "cleansed_import_records": "migration.cleansed_record_archive",
        "asset_inventory": "migration.assets",
        "wiring_health": "migration.wiring_health_snapshots",
    }
    for key, table_name in expected.items():
        metadata = specs[key].metadata
        assert metadata["dagster/table_name"] == table_name, key
        columns = [c.name for c in metadata["dagster/column_schema"].columns]
        assert {"client_account_id", "engagement_id"} <= set(columns), key


def test_the_code_location_module_holds_one_definitions_object():
    """`dagster dev` refuses a code location module with two Definitions at module scope."""
    found = [name for name, value in vars(definitions).items() if isinstance(value, Definitions)]
    assert found == ["defs"]
