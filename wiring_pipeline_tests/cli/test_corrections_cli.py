"""`inventory merge | split | undo` from the command line: JSON out, one line on bad input."""

from __future__ import annotations

import json
import uuid

from click.testing import CliRunner

from wiring_pipeline.cli.main import cli
from wiring_pipeline_tests.domain.inventory.test_reconcile import (
    KEY,
    assets,
    cmdb_row,
    two_sources,  # noqa: F401 - the fixture
    vm_row,
)


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_split_then_undo_then_bad_input(engine, two_sources):  # noqa: F811
    scope, cmdb, vms, load = two_sources
    load(cmdb, "cmdb.csv", [cmdb_row("db01", host="db01.a.example")])
    load(vms, "vms.csv", [vm_row("db01", dns="db01.a.example")])
    [shared] = assets(engine, scope).values()

    split = invoke("inventory", "split", "--partition", KEY, str(shared.id), "--flow", "rvtools")
    assert split.exit_code == 0, split.output
    report = json.loads(split.stdout)
    coverage = json.loads(invoke("inventory", "coverage", "--partition", KEY).stdout)
    assert coverage["assets"] == 2

    undone = invoke("inventory", "undo", "--partition", KEY, str(report["id"]))
    assert undone.exit_code == 0 and json.loads(undone.stdout)["undone"] is True
    merged = invoke("inventory", "merge", "--partition", KEY, str(shared.id), str(uuid.uuid4()))
    assert merged.exit_code == 2 and "has no asset" in merged.output
    assert len(merged.output.strip().splitlines()) == 1
