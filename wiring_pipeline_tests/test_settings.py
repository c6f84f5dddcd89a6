"""Paths are pinned once, absolute, so a child process in another directory finds the same."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wiring_pipeline import settings


@pytest.fixture()
def clean_paths(monkeypatch, tmp_path):
    for name in settings.PATH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_default_home_is_pinned_to_where_the_user_started(clean_paths):
    pinned = settings.pin_paths()
    assert pinned == {"WIRING_HOME": str(clean_paths / ".wiring")}
    assert os.environ["WIRING_HOME"] == str(clean_paths / ".wiring")


def test_relative_homes_become_absolute(clean_paths, monkeypatch):
    monkeypatch.setenv("WIRING_HOME", "state")
    monkeypatch.setenv("DAGSTER_HOME", "state/dagster")
    assert settings.pin_paths() == {
        "WIRING_HOME": str(clean_paths / "state"),
        "DAGSTER_HOME": str(clean_paths / "state" / "dagster"),
    }


def test_a_child_started_elsewhere_sees_the_same_home(clean_paths):
    settings.pin_paths()
    elsewhere = clean_paths / "elsewhere"
    elsewhere.mkdir()
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "from wiring_pipeline import settings; print(settings.wiring_home())",
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(child.stdout.strip()) == clean_paths / ".wiring"


@pytest.fixture()
def no_database_url(monkeypatch):
    """A process with no application URL and no orchestrator around it (a workstation)."""
    monkeypatch.delenv("WIRING_DATABASE_URL", raising=False)
    monkeypatch.delenv(settings.EMBEDDED_DATABASE_VARIABLE, raising=False)
    for variable in settings.ORCHESTRATOR_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_on_a_workstation_no_url_means_the_embedded_server(no_database_url):
    assert settings.orchestrator() is None
    assert settings.configured_database_url() is None
    no_database_url.setenv("WIRING_DATABASE_URL", "postgresql+psycopg://db/wiring")
    assert settings.configured_database_url() == "postgresql+psycopg://db/wiring"


@pytest.mark.parametrize(
    ("variable", "orchestrator"),
    [
        ("KUBERNETES_SERVICE_HOST", "Kubernetes"),
        ("ECS_CONTAINER_METADATA_URI_V4", "Amazon ECS"),
        ("NOMAD_ALLOC_ID", "Nomad"),
        ("K_SERVICE", "Cloud Run"),
    ],
)
def test_under_an_orchestrator_no_url_stops_with_one_line_naming_it(
    no_database_url, variable, orchestrator
):
    no_database_url.setenv(variable, "10.0.0.1")
    with pytest.raises(settings.EmbeddedServerRefused) as refused:
        settings.configured_database_url()
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("WIRING_DATABASE_URL is not set")
    assert f"{orchestrator} ({variable} is set)" in message
    assert "WIRING_EMBEDDED_DATABASE=1" in message
    # A URL, or the explicit opt-in, is what it asks for; either one lets the process go on.
    no_database_url.setenv("WIRING_EMBEDDED_DATABASE", "1")
    assert settings.configured_database_url() is None
    no_database_url.setenv("WIRING_DATABASE_URL", "postgresql+psycopg://db/wiring")
    assert settings.configured_database_url() == "postgresql+psycopg://db/wiring"


def test_the_embedded_server_can_be_forbidden_everywhere_and_a_typo_is_named(no_database_url):
    no_database_url.setenv("WIRING_EMBEDDED_DATABASE", "0")
    with pytest.raises(settings.EmbeddedServerRefused, match="WIRING_EMBEDDED_DATABASE=0 forbids"):
        settings.configured_database_url()
    no_database_url.setenv("WIRING_EMBEDDED_DATABASE", "maybe")
    with pytest.raises(settings.EmbeddedServerRefused, match="'maybe' is neither 1 nor 0"):
        settings.configured_database_url()
