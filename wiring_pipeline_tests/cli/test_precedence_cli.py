"""A precedence change or a removed source derives the shared assets again, reading no file."""

from __future__ import annotations

import json

from click.testing import CliRunner

from wiring_pipeline.cli.main import cli
from wiring_pipeline_tests.domain.inventory.test_reconcile import (
    KEY,
    assets,
    cmdb_row,
    errors,
    two_sources,  # noqa: F401 - the fixture
    vm_row,
)


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def shared_state(engine, scope):
    [shared] = [a for a in assets(engine, scope).values() if len(a.matched or []) == 2]
    return shared


def test_a_new_precedence_derives_the_shared_assets_again(engine, two_sources):  # noqa: F811
    scope, cmdb, vms, load = two_sources
    load(cmdb, "cmdb.csv", [cmdb_row("D-CUSTOM-01.USFQ.EDU.EC", ip="172.21.79.3")])
    load(vms, "vms.csv", [vm_row("D-CUSTOM-01", ip="172.21.79.3")])
    before = shared_state(engine, scope)
    assert (before.name, before.discovery_flow_id) == ("D-CUSTOM-01.USFQ.EDU.EC", cmdb["id"])

    updated = invoke("flow", "update", "--partition", KEY, "--flow", "rvtools", "--precedence", "0")

    assert updated.exit_code == 0, updated.output
    report = json.loads(updated.stdout)
    assert (report["precedence"], report["records_requeued"], report["assets_rederived"]) == (
        0,
        0,
        1,
    )
    after = shared_state(engine, scope)
    # The hypervisor now ranks first: its name, its record as the primary one; the owner
    # stays the CMDB's, which the hypervisor's per-field precedence yields.
    assert (after.id, after.name, after.discovery_flow_id) == (
        before.id,
        "D-CUSTOM-01",
        vms["id"],
    )
    assert after.owner == "ops" and after.field_sources["owner"] == str(cmdb["id"])
    assert "name" not in after.field_sources
    assert errors(engine, scope) == {}


def test_removing_a_source_keeps_what_another_describes(engine, two_sources):  # noqa: F811
    scope, cmdb, vms, load = two_sources
    load(cmdb, "cmdb.csv", [cmdb_row("srv1", host="srv1.example", memory="8")])
    load(vms, "vms.csv", [vm_row("srv1", dns="srv1.example", memory_mib="4096"), vm_row("vm9")])
    assert float(shared_state(engine, scope).memory_gb) == 4

    removed = invoke(
        "flow", "remove", "--partition", KEY, "--flow", "rvtools", "--retire-assets"
    )  # fmt: skip

    assert removed.exit_code == 0, removed.output
    assert json.loads(removed.stdout)["assets_retired"] == 1  # vm9 only
    found = assets(engine, scope)
    assert found["vm9"].current_phase == "retired"
    assert found["srv1"].current_phase != "retired" and float(found["srv1"].memory_gb) == 8
    assert errors(engine, scope) == {}
