"""The discovery job materialised: three pipeline assets then health, on a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance

from wiring_pipeline.definitions import defs
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.samples import cmdb_generator as gen
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.pipeline_helpers import dump_tables, register

KEY = "acme.assets"
PIPELINE_TABLES = [
    "data_imports",
    "raw_import_records",
    "import_rejected_rows",
    "cleansed_record_archive",
    "assets",
]


@pytest.fixture()
def instance():
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(tenant_engagements.name, [KEY])
        yield instance


def run_job(instance):
    job = defs.resolve_job_def("discovery_inventory_job")
    return job.execute_in_process(instance=instance, partition_key=KEY)


def metadata_of(result, asset_name: str) -> dict:
    [materialization] = [m for m in result.asset_materializations_for_node(asset_name)]
    return {key: value.value for key, value in materialization.metadata.items()}


def test_job_runs_the_three_stages_and_health_in_order(engine, instance, tmp_path):
    scope = make_tenant(engine, KEY)
    flow = make_flow(engine, scope)
    good = tmp_path / "cmdb.csv"
    gen.write_csv(good, gen.iter_cmdb_rows(3, 80))
    bad = tmp_path / "broken.xlsx"
    gen.write_xlsx(bad, gen.iter_cmdb_rows(3, 5))
    register(engine, scope, flow, good)
    # Checked at import, the workbook breaks afterwards: the load fails it, alone.
    Path(register(engine, scope, flow, bad)["stored_path"]).write_bytes(b"not a workbook")

    result = run_job(instance)

    assert result.success
    steps = [event.step_key for event in result.get_step_success_events()]
    order = ["raw_import_records", "cleansed_import_records", "asset_inventory", "wiring_health"]
    assert [step for step in steps if step in order] == order
    raw = metadata_of(result, "raw_import_records")
    assert (raw["imports_loaded"], raw["imports_failed"], raw["loaded_rows"]) == (1, 1, 80)
    assert raw["failed_imports"][0]["filename"] == "broken.xlsx"
    assert "not a readable .xlsx workbook" in raw["failed_imports"][0]["error"]
    cleansed = metadata_of(result, "cleansed_import_records")
    inventory = metadata_of(result, "asset_inventory")
    assert inventory["created"] == inventory["linked"] == cleansed["cleansed"]
    assert inventory["rejected"] == cleansed["rejected"]
    assert sum(inventory["created_by_type"].values()) == inventory["created"]
    assert sum(inventory["created_by_environment"].values()) == inventory["created"]
    preview = inventory["preview"]
    assert [c.name for c in preview.schema.columns][0] == "name"
    assert 0 < len(preview.records) <= 5
    assert inventory["dagster/row_count"] == inventory["created"]
    # One source: every current asset is seen by it alone (DESIGN 3e's coverage table).
    coverage = inventory["coverage"].splitlines()
    assert coverage[0] == "| sources | assets | e.g. |" and len(coverage) == 3
    assert f" | {inventory['created']} | " in coverage[2]
    assert raw["dagster/row_count"] == raw["loaded_rows"]
    health = metadata_of(result, "wiring_health")
    assert health["health_status"] == "healthy"
    checks = result.get_asset_check_evaluations()
    failed = {check.check_name for check in checks if not check.passed}
    # Only completeness may fail: the generated export has rows missing a critical field.
    assert checks and failed <= {"source_rows_not_in_inventory"}
    assert bool(failed) == bool(cleansed["rejected"])


def test_running_the_job_twice_gives_identical_tables(engine, instance, tmp_path):
    scope = make_tenant(engine, KEY)
    path = tmp_path / "cmdb.jsonl"
    gen.write_jsonl(path, gen.iter_cmdb_rows(4, 60))
    register(engine, scope, make_flow(engine, scope), path)
    assert run_job(instance).success
    before = dump_tables(engine, PIPELINE_TABLES)
    second = run_job(instance)
    assert second.success
    assert metadata_of(second, "asset_inventory")["created"] == 0
    assert dump_tables(engine, PIPELINE_TABLES) == before
