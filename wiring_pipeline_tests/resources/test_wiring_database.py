"""The resource never starts an embedded PostgreSQL inside a pod without being asked to.

Every test runs with no application URL and `WIRING_HOME` in a temporary directory, so an
embedded server that did start would leave its data directory there.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from dagster import build_sensor_context, instance_for_test

from wiring_pipeline import settings
from wiring_pipeline.cli.main import cli
from wiring_pipeline.defs.discovery.sensors import pending_imports_sensor
from wiring_pipeline.resources import WiringDatabase, embedded


@pytest.fixture()
def pod(monkeypatch, tmp_path):
    """The environment of a Kubernetes pod whose secret lacks WIRING_DATABASE_URL."""
    monkeypatch.setenv("WIRING_HOME", str(tmp_path))
    monkeypatch.delenv("WIRING_DATABASE_URL", raising=False)
    monkeypatch.delenv(settings.EMBEDDED_DATABASE_VARIABLE, raising=False)
    for variable in settings.ORCHESTRATOR_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    return tmp_path


def test_the_resource_refuses_an_embedded_server_in_a_pod(pod):
    with pytest.raises(settings.EmbeddedServerRefused, match="^WIRING_DATABASE_URL is not set"):
        WiringDatabase().url()
    assert not (pod / "pgdata").exists()


def test_a_sensor_in_a_pod_stops_with_the_message_instead_of_starting_a_server(pod):
    with instance_for_test() as instance:
        context = build_sensor_context(instance=instance, resources={"wiring_db": WiringDatabase()})
        with pytest.raises(settings.EmbeddedServerRefused, match="KUBERNETES_SERVICE_HOST"):
            pending_imports_sensor(context)
    assert not (pod / "pgdata").exists()


def test_the_command_line_in_a_pod_says_it_in_one_line_with_exit_2(pod):
    result = CliRunner().invoke(cli, ["db", "url"])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "WIRING_DATABASE_URL is not set" in line and "WIRING_EMBEDDED_DATABASE=1" in line
    assert not (pod / "pgdata").exists()


def test_a_configured_url_is_used_in_a_pod(pod):
    assert WiringDatabase(database_url="postgresql+psycopg://a/b").url().endswith("//a/b")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WIRING_DATABASE_URL", "postgresql+psycopg://db/wiring")
        assert WiringDatabase().url() == "postgresql+psycopg://db/wiring"


def test_the_dagster_storage_in_a_pod_is_refused_too(pod, monkeypatch):
    monkeypatch.delenv("WIRING_DAGSTER_STORAGE_URL", raising=False)
    with pytest.raises(
        settings.EmbeddedServerRefused, match="^WIRING_DAGSTER_STORAGE_URL is not set"
    ):
        embedded.dagster_storage_url()
    assert not (pod / "pgdata").exists()
