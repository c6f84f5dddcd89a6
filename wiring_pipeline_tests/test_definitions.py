"""The code location loads, and dagster.yaml gives a PostgreSQL-backed instance."""

from __future__ import annotations

import shutil

from dagster import DagsterInstance, job, op
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from wiring_pipeline import settings
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
