"""What can be checked of `deploy/` without a cluster: syntax, agreement with the project, keys.

The Helm values restate the project's dagster.yaml (the chart writes the instance config
itself), so the two are compared; the Citus key script is plain PostgreSQL and is run
against a database at Alembic head. Nothing here installs the chart, builds the image or
talks to Citus: the README says so.
"""

from __future__ import annotations

import re

import psycopg
import pytest
import yaml
from sqlalchemy import make_url, text

from wiring_pipeline import settings
from wiring_pipeline.db import engines
from wiring_pipeline.domain.contract import constraints
from wiring_pipeline.domain.core.schema import metadata

DEPLOY = settings.PROJECT_ROOT / "deploy"


def load_yaml(relative: str) -> list[dict]:
    return list(yaml.safe_load_all((DEPLOY / relative).read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def values() -> dict:
    (document,) = load_yaml("helm/values.yaml")
    return document


@pytest.mark.parametrize(
    "relative", sorted(str(p.relative_to(DEPLOY)) for p in DEPLOY.rglob("*.yaml"))
)
def test_every_deploy_yaml_file_parses_to_mappings(relative: str):
    documents = load_yaml(relative)
    assert documents and all(isinstance(doc, dict) and doc for doc in documents)


def test_helm_run_queue_limits_one_run_per_tenant_partition_like_dagster_yaml(values: dict):
    project = yaml.safe_load((settings.PROJECT_ROOT / "dagster.yaml").read_text())
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] == "QueuedRunCoordinator"
    helm_limits = coordinator["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    project_limits = project["concurrency"]["runs"]["tag_concurrency_limits"]
    assert helm_limits == project_limits
    assert {
        "key": "dagster/partition",
        "value": {"applyLimitPerUniqueValue": True},
        "limit": 1,
    } in helm_limits


def test_helm_values_run_the_project_location_on_k8s_with_external_postgres(values: dict):
    workspace = yaml.safe_load((settings.PROJECT_ROOT / "workspace.yaml").read_text())
    (location,) = workspace["load_from"]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    args = deployment["dagsterApiGrpcArgs"]
    assert args[args.index("--module-name") + 1] == location["python_module"]["module_name"]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False
    assert values["generatePostgresqlPasswordSecret"] is False

    secrets = {doc["metadata"]["name"]: doc for doc in load_yaml("k8s/secrets.example.yaml")}
    assert "postgresql-password" in secrets[values["global"]["postgresqlSecretName"]]["stringData"]
    (env_secret,) = deployment["envSecrets"]
    assert "WIRING_DATABASE_URL" in secrets[env_secret["name"]]["stringData"]
    (claim,) = load_yaml("k8s/wiring-home-pvc.yaml")
    (volume,) = deployment["volumes"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    (mount,) = deployment["volumeMounts"]
    assert mount["mountPath"] == deployment["env"]["WIRING_HOME"]


def test_no_pod_of_the_chart_or_the_migrate_job_falls_back_to_an_embedded_server(
    values: dict, monkeypatch
):
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    (env_secret,) = deployment["envSecrets"]
    secrets = {doc["metadata"]["name"]: doc for doc in load_yaml("k8s/secrets.example.yaml")}
    assert "WIRING_DATABASE_URL" in secrets[env_secret["name"]]["stringData"]
    (job,) = load_yaml("k8s/wiring-db-migrate-job.yaml")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": env_secret["name"]}}]
    job_env = {item["name"]: item["value"] for item in container["env"]}

    for pod_env in (deployment["env"], job_env):
        # A pod of this chart whose secret lacks the URL: the code stops, naming it.
        for variable in settings.ORCHESTRATOR_VARIABLES:
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv("WIRING_DATABASE_URL", raising=False)
        for name, value in pod_env.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(settings.EmbeddedServerRefused, match="WIRING_DATABASE_URL"):
            settings.configured_database_url()


def test_dockerfile_installs_dagster_k8s_in_step_with_dagster_postgres():
    pyproject = (settings.PROJECT_ROOT / "pyproject.toml").read_text()
    (postgres_pin,) = re.findall(r'"dagster-postgres==([0-9.]+)"', pyproject)
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    (k8s_pin,) = re.findall(r"dagster-k8s==([0-9.]+)", dockerfile)
    assert k8s_pin == postgres_pin


def tenant_key_violations(conn) -> list[str]:
    """Keys Citus would refuse with the tenant tables distributed by client_account_id."""
    return list(
        conn.execute(
            text(
                """
                WITH tenant_tables AS (
                    SELECT c.oid, c.relname, a.attnum AS tenant_attnum
                    FROM pg_class c
                    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'migration'
                    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'client_account_id'
                    WHERE c.relkind = 'r')
                SELECT format('%s.%s: unique index without client_account_id', t.relname,
                              i.indexrelid::regclass)
                FROM pg_index i JOIN tenant_tables t ON t.oid = i.indrelid
                WHERE i.indisunique AND NOT t.tenant_attnum = ANY (i.indkey::int2[])
                UNION ALL
                SELECT format('%s.%s: foreign key not on client_account_id at both ends',
                              t.relname, f.conname)
                FROM pg_constraint f
                JOIN tenant_tables t ON t.oid = f.conrelid
                JOIN tenant_tables r ON r.oid = f.confrelid
                WHERE f.contype = 'f'
                  AND NOT EXISTS (
                      SELECT 1 FROM unnest(f.conkey, f.confkey) AS k(local, remote)
                      WHERE k.local = t.tenant_attnum AND k.remote = r.tenant_attnum)
                ORDER BY 1
                """
            )
        ).scalars()
    )


def test_citus_key_script_leaves_only_tenant_leading_keys(fresh_database):
    url = fresh_database()
    engine = engines.get_engine(url)
    engines.upgrade(engine)
    with engine.connect() as conn:
        before = tenant_key_violations(conn)
    assert any("raw_import_records_pkey" in v for v in before), before

    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    script = (DEPLOY / "citus" / "01_tenant_leading_keys.sql").read_text()
    with psycopg.connect(libpq, autocommit=True) as raw:
        raw.execute(script)

    with engine.begin() as conn:
        assert tenant_key_violations(conn) == []
        # wiring_constraints_job still finds the keys its foreign keys reference.
        for fk in constraints.FOREIGN_KEYS:
            constraints.add_foreign_key(conn, fk)
            constraints.validate_foreign_key(conn, fk)
        assert set(constraints.constraint_states(conn).values()) == {"validated"}
        assert tenant_key_violations(conn) == []
        every_table = {table.name for table in metadata.sorted_tables}
        primary_keys = set(
            conn.execute(
                text(
                    """SELECT conrelid::regclass::text FROM pg_constraint
                       WHERE contype = 'p' AND connamespace = 'migration'::regnamespace"""
                )
            ).scalars()
        )
    assert {f"migration.{name}" for name in every_table} <= primary_keys
    engine.dispose()


def test_citus_distribution_script_names_every_tenant_table():
    script = (DEPLOY / "citus" / "02_distribute.sql").read_text()
    distributed = set(re.findall(r"create_distributed_table\('migration\.(\w+)'", script))
    referenced = set(re.findall(r"create_reference_table\('migration\.(\w+)'", script))
    tenant_tables = {
        table.name for table in metadata.sorted_tables if "client_account_id" in table.c
    }
    assert distributed == tenant_tables
    assert referenced == {"client_accounts"}


def test_every_deploy_file_the_readme_names_exists():
    readme = (settings.PROJECT_ROOT / "README.md").read_text()
    named = set(re.findall(r"deploy/[\w/.-]*\w", readme))
    assert named, "README names no deploy/ file"
    missing = sorted(p for p in named if not (settings.PROJECT_ROOT / p).exists())
    assert not missing, f"README names files that do not exist: {missing}"
