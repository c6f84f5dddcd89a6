"""`wiring-pipeline backfill` and `constraints`, as a user types them, on the project's
PostgreSQL-backed instance."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance

from wiring_pipeline.cli.main import cli
from wiring_pipeline_tests.support.legacy_fixture import (
    DATA_TABLES,
    EXPECTED_HEALTH_AFTER,
    EXPECTED_REPAIRS,
    EXPECTED_UNREPAIRABLE,
    MAIN_KEY,
    RIVAL_KEY,
    SIBLING_KEY,
    build_legacy_world,
    drop_foreign_keys,
    dump,
)

#: The CLI re-measures health after an execute or undo, which adds a snapshot.
REPAIRED_TABLES = [t for t in DATA_TABLES if t != "wiring_health_snapshots"]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture()
def world(engine):
    world = build_legacy_world(engine)
    yield world
    drop_foreign_keys(engine)


def test_dry_run_execute_undo(engine, world):
    before = dump(engine, REPAIRED_TABLES)

    dry = invoke("backfill", "--partition", MAIN_KEY, "--batch-size", "5")
    assert dry.exit_code == 0, dry.output
    dry_report = json.loads(dry.stdout)
    assert dry_report["dry_run"] is True
    assert dry_report["repairs"] == EXPECTED_REPAIRS
    assert dry_report["unrepairable"] == EXPECTED_UNREPAIRABLE
    assert dump(engine, REPAIRED_TABLES) == before

    done = invoke("backfill", "--partition", MAIN_KEY, "--execute")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["repairs"] == EXPECTED_REPAIRS
    assert report["health"]["metrics"] == EXPECTED_HEALTH_AFTER
    with DagsterInstance.get() as instance:  # both runs are on the configured instance
        backfill_run = instance.get_run_by_id(report["run_id"])
        health_run = instance.get_run_by_id(report["health_run_id"])
    assert backfill_run.is_success and backfill_run.tags["dagster/partition"] == MAIN_KEY
    assert health_run.job_name == "wiring_health_job"

    undone = invoke("backfill", "--undo", report["run_id"])
    assert undone.exit_code == 0, undone.output
    assert json.loads(undone.stdout)["partition"] == MAIN_KEY
    assert dump(engine, REPAIRED_TABLES) == before


def test_bad_input_exits_2(engine, world):
    assert invoke("backfill", "--partition", "nobody.here").exit_code == 2
    assert invoke("backfill").exit_code == 2
    assert invoke("backfill", "--undo", "no-such-run").exit_code == 2
    assert invoke("backfill", "--undo", "x", "--execute").exit_code == 2


def test_constraints_refuse_then_validate(engine, world):
    added = invoke("constraints")
    assert added.exit_code == 0, added.output
    assert set(json.loads(added.stdout)["states"].values()) == {"not valid"}

    refused = invoke("constraints", "--validate")
    assert refused.exit_code == 1
    assert MAIN_KEY in refused.output

    for key in (MAIN_KEY, SIBLING_KEY, RIVAL_KEY):
        assert invoke("backfill", "--partition", key, "--execute").exit_code == 0
    validated = invoke("constraints", "--validate")
    assert validated.exit_code == 0, validated.output
    assert set(json.loads(validated.stdout)["states"].values()) == {"validated"}
