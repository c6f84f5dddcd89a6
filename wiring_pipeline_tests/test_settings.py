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
