"""Two sources of one engagement: one asset per machine, proven (DESIGN 3e)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from wiring_pipeline.domain.health.measure import measure_wiring_health
from wiring_pipeline.domain.inventory.reconciliation_report import (
    conflicts,
    coverage,
    match_candidates,
)
from wiring_pipeline_tests.support.csv_rows import write_csv_rows
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.pipeline_helpers import register, run_stages

KEY = "acme.reconcile"
CMDB = {
    "Name": "name",
    "Class": "asset_type",
    "Env": "environment",
    "Host": "hostname",
    "IP": "ip_address",
    "Serial": "serial_number",
    "Owner": "owner",
    "RAM GB": "memory_gb",
}
RVTOOLS = {
    "VM": "name",
    "DNS Name": "fqdn",
    "Primary IP Address": "ip_address",
    "Serial": "serial_number",
    "Memory": {"field": "memory_gb", "unit": "MiB"},
}
RVTOOLS_SPEC = {
    "mappings": RVTOOLS,
    "constants": {"asset_type": "virtual_machine", "environment": "unknown"},
    "key": ["VM"],
    # What the RVTools profile says: the hypervisor knows the sizing, the CMDB the owner.
    "field_precedence": {"memory_gb": 0, "environment": 2, "owner": 2},
}


def cmdb_row(name, host="", ip="", serial="", memory="16", owner="ops"):
    return {"Name": name, "Class": "Server", "Env": "Production", "Host": host, "IP": ip,
            "Serial": serial, "Owner": owner, "RAM GB": memory}  # fmt: skip


def vm_row(name, dns="", ip="", serial="", memory_mib="16384"):
    return {"VM": name, "DNS Name": dns, "Primary IP Address": ip, "Serial": serial,
            "Memory": memory_mib}  # fmt: skip


@pytest.fixture()
def two_sources(engine, tmp_path):
    scope = make_tenant(engine, KEY)
    cmdb = make_flow(engine, scope, mappings=CMDB, flow_name="cmdb", identity_key=["Name"])
    vms = make_flow(engine, scope, mappings=RVTOOLS_SPEC, flow_name="rvtools")

    def load(flow, name, rows):
        register(engine, scope, flow, write_csv_rows(tmp_path / name, rows))
        return run_stages(engine, KEY)[2]

    return scope, cmdb, vms, load


def assets(engine, scope):
    with engine.connect() as conn:
        return {
            row.name: row
            for row in conn.execute(
                text(
                    "SELECT a.*, (SELECT array_agg(s.matched_on ORDER BY s.created_at)"
                    " FROM migration.asset_sources s WHERE s.asset_id = a.id"
                    " AND s.current_phase = 'current') AS matched"
                    " FROM migration.assets a WHERE a.client_account_id = :client_account_id"
                    " AND a.engagement_id = :engagement_id"
                ),
                scope.as_params(),
            )
        }


def errors(engine, scope) -> dict[str, int]:
    from wiring_pipeline.domain.contract.metrics import METRICS_BY_NAME

    with engine.connect() as conn:
        health = measure_wiring_health(conn, scope)
    return {
        name: count
        for name, count in health.metrics.items()
        if METRICS_BY_NAME[name].severity == "ERROR" and count
    }


def test_a_server_both_sources_describe_is_one_asset_linked_to_both_records(engine, two_sources):
    scope, cmdb, vms, load = two_sources
    load(cmdb, "cmdb.csv", [
        cmdb_row("D-CUSTOM-01.USFQ.EDU.EC", host="D-CUSTOM-01.USFQ.EDU.EC", ip="172.21.79.3"),
        cmdb_row("PHYS-01", host="phys-01.usfq.edu.ec", ip="172.21.1.1"),
    ])  # fmt: skip
    result = load(vms, "vms.csv", [
        vm_row("D-CUSTOM-01", ip="172.21.79.3", memory_mib="12288"),
        vm_row("vm-only", dns="vm-only.usfq.edu.ec", ip="172.21.79.9"),
    ])  # fmt: skip

    assert result.changes["matched"] == 1 and result.changes["created"] == 1
    found = assets(engine, scope)
    assert sorted(found) == ["D-CUSTOM-01.USFQ.EDU.EC", "PHYS-01", "vm-only"]
    shared = found["D-CUSTOM-01.USFQ.EDU.EC"]
    # No DNS name on this VM: the IP (unique on both sides) is the strongest agreement.
    assert shared.matched == ["new", "ip_address"]
    # The CMDB (added first) is primary and wins the owner and environment; the hypervisor
    # wins the memory by its per-field precedence, and says where each value came from.
    assert shared.discovery_flow_id == cmdb["id"]
    assert (shared.environment, shared.owner, float(shared.memory_gb)) == ("production", "ops", 12)
    assert shared.field_sources["memory_gb"] == str(vms["id"])
    # The owner came from the primary flow, which the provenance does not repeat.
    assert "owner" not in shared.field_sources and shared.owner == "ops"
    with engine.connect() as conn:
        linked = conn.execute(
            text("SELECT count(*) FROM migration.raw_import_records WHERE asset_id = :a"),
            {"a": shared.id},
        ).scalar()
        kept = conn.execute(
            text("SELECT field_name, chosen_value FROM migration.asset_conflicts")
        ).all()
    assert linked == 2
    # Kept, not resolved away: 16 GiB says the CMDB, 12 the hypervisor. The hypervisor's
    # constants (virtual_machine, environment unknown) are defaults, not observations.
    assert {c.field_name: c.chosen_value for c in kept} == {"memory_gb": 12}
    assert errors(engine, scope) == {}
    with engine.connect() as conn:
        report = coverage(conn, scope)
        [memory] = [c for c in conflicts(conn, scope) if c["field"] == "memory_gb"]
    assert report["sources"] == ["cmdb", "rvtools"] and report["assets"] == 3
    assert {tuple(c["sources"]): c["assets"] for c in report["combinations"]} == {
        ("cmdb", "rvtools"): 1,
        ("cmdb",): 1,
        ("rvtools",): 1,
    }
    assert memory["values"] == {"cmdb": 16, "rvtools": 12}
    assert memory["chosen"] == {"source": "rvtools", "value": 12}


def test_clones_sharing_a_serial_and_one_name_in_two_domains_never_merge(engine, two_sources):
    scope, cmdb, vms, load = two_sources
    load(cmdb, "cmdb.csv", [
        cmdb_row("web01-a", host="web01.a.example", serial="VMware-42 1a"),
        cmdb_row("db01", host="db01.a.example", ip="10.0.0.5"),
        cmdb_row("app01", host="app01.a.example", serial="To be filled by O.E.M."),
    ])  # fmt: skip
    result = load(vms, "vms.csv", [
        vm_row("clone-of-web01", dns="clone.a.example", serial="VMWARE-421A"),
        vm_row("web01-b", dns="web01.b.example"),
        vm_row("other", dns="other.a.example", ip="10.0.0.5"),
        vm_row("app02", dns="app02.a.example", serial="to be filled by o.e.m."),
    ])  # fmt: skip

    assert result.changes["matched"] == 0 and result.changes["created"] == 4
    assert len(assets(engine, scope)) == 7
    with engine.connect() as conn:
        candidates = conn.execute(
            text("SELECT rule, reason FROM migration.match_candidates ORDER BY rule")
        ).all()
    # The clone agrees on the serial but not its host name: kept for a person to look at.
    assert [tuple(c) for c in candidates] == [
        ("serial_number", "agrees on serial_number but its fqdn differs")
    ]
    with engine.connect() as conn:
        [review] = match_candidates(conn, scope)
    assert (review["asset"]["name"], review["candidate"]["name"]) == ("clone-of-web01", "web01-a")
    assert errors(engine, scope) == {}


def test_several_machines_fitting_equally_leave_a_candidate_and_merge_nothing(engine, two_sources):
    scope, cmdb, vms, load = two_sources
    load(cmdb, "cmdb.csv", [
        cmdb_row("web01.a.example", host="web01.a.example"),
        cmdb_row("web01.b.example", host="web01.b.example"),
    ])  # fmt: skip
    result = load(vms, "vms.csv", [vm_row("WEB01")])

    assert result.changes == {**result.changes, "created": 1, "matched": 0}
    with engine.connect() as conn:
        reasons = conn.execute(text("SELECT reason FROM migration.match_candidates")).scalars()
        assert set(reasons) == {"several machines agree on name"}


def test_a_full_export_without_a_shared_machine_retires_only_its_source_row(
    engine, two_sources, tmp_path
):
    scope, cmdb, vms, load = two_sources
    load(cmdb, "cmdb.csv", [cmdb_row("srv1", host="srv1.example"), cmdb_row("srv2")])
    load(vms, "vms.csv", [vm_row("srv1", memory_mib="4096"), vm_row("vm9")])

    result = load(vms, "vms-week2.csv", [vm_row("vm9")])

    assert result.changes["retired"] == 0
    found = assets(engine, scope)
    assert found["srv1"].current_phase != "retired" and found["srv1"].matched == ["new"]
    # Only the CMDB describes it now: its memory is the CMDB's again.
    assert float(found["srv1"].memory_gb) == 16
    assert errors(engine, scope) == {}

    load(cmdb, "cmdb-week2.csv", [cmdb_row("srv2")])
    assert assets(engine, scope)["srv1"].current_phase == "retired"


def test_a_rerun_and_a_reimport_of_both_sources_change_nothing(engine, two_sources):
    scope, cmdb, vms, load = two_sources
    cmdb_rows = [cmdb_row("srv1", host="srv1.example", memory="8"), cmdb_row("srv2")]
    vm_rows = [vm_row("srv1", dns="srv1.example", memory_mib="8192"), vm_row("vm9")]
    load(cmdb, "cmdb.csv", cmdb_rows)
    load(vms, "vms.csv", vm_rows)
    before = assets(engine, scope)

    again = load(cmdb, "cmdb-2.csv", [*cmdb_rows, cmdb_row("srv3")])
    vms_again = load(vms, "vms-2.csv", [*vm_rows, vm_row("vm10")])

    assert (again.changes["created"], again.changes["updated"]) == (1, 0)
    assert (vms_again.changes["unchanged"], vms_again.changes["created"]) == (2, 1)
    assert vms_again.changes["updated"] == 0
    after = assets(engine, scope)
    kept = {n: a.id for n, a in after.items() if n not in ("srv3", "vm10")}
    assert kept == {n: a.id for n, a in before.items()}
    assert errors(engine, scope) == {}


def test_a_conflict_names_every_observing_source_and_values_equal_as_compared_do_not_conflict(
    engine, two_sources
):
    scope, cmdb, vms, load = two_sources
    # A second CMDB: its memory agrees with the first CMDB's, and its name and serial differ
    # from the others only as the identifiers are compared (case, separators).
    audit = make_flow(engine, scope, mappings=CMDB, flow_name="audit", identity_key=["Name"])
    load(cmdb, "cmdb.csv", [cmdb_row("WEB01", ip="10.0.0.5", serial="ABC-123")])
    load(vms, "vms.csv", [vm_row("web01", ip="10.0.0.5", serial="abc123", memory_mib="8192")])
    load(audit, "audit.csv", [cmdb_row("Web01", ip="10.0.0.5", serial="ABC 123", memory="16.0")])

    [shared] = assets(engine, scope).values()
    assert shared.matched == ["new", "serial_number", "serial_number"]
    with engine.connect() as conn:
        found = {c["field"]: c for c in conflicts(conn, scope)}
    # Names and serials agree as compared; memory has two values, 16 (both CMDBs) and 8.
    assert sorted(found) == ["memory_gb"]
    assert found["memory_gb"]["values"] == {"cmdb": 16, "rvtools": 8, "audit": 16.0}
    assert found["memory_gb"]["chosen"] == {"source": "rvtools", "value": 8}
    # The hypervisor gave the memory, the primary CMDB everything else it has.
    assert shared.field_sources == {"memory_gb": str(vms["id"])}


def test_two_values_that_differ_only_as_compared_or_that_cannot_be_compared_do_not_conflict(
    engine, two_sources
):
    scope, cmdb, vms, load = two_sources
    # Two sources, the common case the derivation compares pairwise: the names differ in
    # case, the memory in unit, and the CMDB's serial is a placeholder, no serial at all.
    load(cmdb, "cmdb.csv", [cmdb_row("WEB01", ip="10.0.0.5", serial="To be filled by O.E.M.")])
    load(vms, "vms.csv", [vm_row("web01", ip="10.0.0.5", serial="VMware-42 1a")])

    [shared] = assets(engine, scope).values()
    assert shared.matched == ["new", "ip_address"]
    with engine.connect() as conn:
        assert conflicts(conn, scope) == []
    # The primary CMDB has every field the VM export has; the hypervisor wins the memory.
    assert (shared.name, shared.serial_number) == ("WEB01", "To be filled by O.E.M.")
    assert shared.field_sources == {"memory_gb": str(vms["id"])}
