"""`wiring-pipeline run`: the job on the project's PostgreSQL-backed instance, then health."""

from __future__ import annotations

import json

from click.testing import CliRunner
from dagster import DagsterInstance, DagsterRunStatus
from sqlalchemy import text

from wiring_pipeline.cli.main import cli
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.samples import cmdb_generator as gen
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.pipeline_helpers import register

KEY = "acme.run-cli"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_run_materialises_the_partition_and_prints_health(engine, tmp_path):
    scope = make_tenant(engine, KEY)
    path = tmp_path / "cmdb.csv"
    gen.write_csv(path, gen.iter_cmdb_rows(21, 50), delimiter=";")
    register(engine, scope, make_flow(engine, scope), path)

    result = invoke("run", "--partition", KEY)

    assert result.exit_code == 0, result.output
    health = json.loads(result.stdout)
    assert health["health_status"] == "healthy"
    assert health["tenant"]["partition_key"] == KEY
    assert set(health["metrics"].values()) == {0}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM migration.assets")).scalar() > 0
    with DagsterInstance.get() as instance:  # the instance `run` configured from dagster.yaml
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.has_dynamic_partition(tenant_engagements.name, KEY)
        [record] = instance.get_run_records(limit=1)
        assert record.dagster_run.tags["dagster/partition"] == KEY
        assert record.dagster_run.status == DagsterRunStatus.SUCCESS


def test_run_fails_with_exit_1_when_a_blocking_check_fails(engine):
    scope = make_tenant(engine, KEY)
    with engine.begin() as conn:  # a legacy flow-based asset without its flow link
        conn.execute(
            text(
                "INSERT INTO migration.assets (client_account_id, engagement_id, name,"
                " discovery_method) VALUES (:client_account_id, :engagement_id, 'x', 'flow_based')"
            ),
            scope.as_params(),
        )
    result = invoke("run", "--partition", KEY)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["metrics"]["flow_based_assets_missing_discovery_flow_id"] == 1
    assert "failed check(s):" in result.stderr
    assert "flow_based_assets_missing_discovery_flow_id" in result.stderr


def test_run_with_an_unknown_partition_exits_2(engine):
    result = invoke("run", "--partition", "acme.nowhere")
    assert result.exit_code == 2
    assert "no client account with slug 'acme'" in result.output
