"""Flows as specs, end to end: units, constants and fallback columns reach the assets; a
flow that would reject every row is refused when added; update re-cleanses, remove keeps
the wiring (DESIGN 3d)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from wiring_pipeline.domain.health.measure import measure_wiring_health
from wiring_pipeline.domain.ingest import flows
from wiring_pipeline_tests.support.csv_rows import write_csv_rows
from wiring_pipeline_tests.support.factories import make_tenant
from wiring_pipeline_tests.support.pipeline_helpers import register, run_stages

KEY = "acme.specs"
SPEC = {
    "mappings": {
        "VM": "name",
        "DNS": "hostname",
        "Memory": {"field": "memory_gb", "unit": "MiB"},
        "Disk MB": {"field": "storage_gb", "unit": "MB"},
        "Disk GB": "storage_gb",
        "Tag Name": "description",
        "Id": "description",
    },
    "constants": {"asset_type": "virtual_machine"},
    "key": ["VM"],
}
ROWS = [
    {"VM": "web-01", "DNS": "", "Memory": "12288", "Disk MB": "", "Disk GB": "80",
     "Tag Name": "frontend", "Id": "i-1"},
    {"VM": "db-01", "DNS": "db-01.corp", "Memory": "4096", "Disk MB": "512000",
     "Disk GB": "1", "Tag Name": " ", "Id": "i-2"},
]  # fmt: skip


def _assets(engine, scope) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT name, asset_type, environment, memory_gb, storage_gb, description,"
                " current_phase FROM migration.assets"
                " WHERE client_account_id = :client_account_id"
                " AND engagement_id = :engagement_id"
            ),
            scope.as_params(),
        ).mappings()
        return {row["name"]: dict(row) for row in rows}


def test_units_constants_and_fallback_columns_reach_the_assets(engine, tmp_path):
    scope = make_tenant(engine, KEY)
    with engine.begin() as conn:
        flow = flows.add_flow(conn, scope, SPEC, sets=["environment=Production"], flow_name="vm")
    register(engine, scope, flow, write_csv_rows(tmp_path / "vms.csv", ROWS))
    run_stages(engine, KEY)

    found = _assets(engine, scope)
    assert found["web-01"]["memory_gb"] == 12  # 12288 MiB
    assert found["db-01"]["memory_gb"] == 4
    assert found["web-01"]["storage_gb"] == 80  # Disk MB empty: Disk GB, in GiB already
    assert float(found["db-01"]["storage_gb"]) == pytest.approx(500)  # 512000 MB
    assert found["web-01"]["description"] == "frontend"
    assert found["db-01"]["description"] == "i-2"  # an empty first column falls back
    assert {a["asset_type"] for a in found.values()} == {"virtual_machine"}
    assert {a["environment"] for a in found.values()} == {"production"}


def test_a_flow_missing_a_critical_field_is_refused_when_added(engine):
    scope = make_tenant(engine, KEY)
    with engine.begin() as conn:
        with pytest.raises(flows.FlowError, match="critical field.*environment"):
            flows.add_flow(conn, scope, SPEC)
        flows.add_flow(conn, scope, SPEC, sets=["environment=test"], flow_name="VMs")
        with pytest.raises(flows.FlowError, match="already has a flow named 'vms'"):
            flows.add_flow(conn, scope, SPEC, sets=["environment=test"], flow_name="vms")
        assert [f["flow_name"] for f in flows.list_flows(conn, scope)] == ["VMs"]


def test_update_recleanses_the_rejected_records_and_remove_keeps_the_links(engine, tmp_path):
    scope = make_tenant(engine, KEY)
    flat = {"VM": "name", "Kind": "asset_type", "Env": "environment"}
    rows = [{"VM": f"vm-{n}", "Kind": "vm", "Env": ""} for n in range(3)]
    with engine.begin() as conn:
        flow = flows.add_flow(conn, scope, flat, flow_name="cmdb")
    register(engine, scope, flow, write_csv_rows(tmp_path / "cmdb.csv", rows))
    run_stages(engine, KEY)
    assert _assets(engine, scope) == {}  # every row lacks its environment
    rejected = _health(engine, scope).as_json()
    assert (rejected["health_status"], rejected["completeness"]) == ("healthy", "incomplete")

    with engine.begin() as conn:
        updated, requeued = flows.update_flow(conn, scope, "cmdb", sets=["environment=dev"])
    assert requeued == 3
    assert updated["field_mappings_version_id"] != flow["field_mappings_version_id"]
    run_stages(engine, KEY)
    assert {a["environment"] for a in _assets(engine, scope).values()} == {"dev"}
    health = _health(engine, scope)
    assert (health.health_status, health.completeness) == ("healthy", "complete")

    with engine.begin() as conn:
        with pytest.raises(flows.FlowError, match="has 3 current asset"):
            flows.remove_flow(conn, scope, "cmdb")
        done = flows.remove_flow(conn, scope, "cmdb", retire_assets=True)
        assert flows.list_flows(conn, scope) == []
        with pytest.raises(flows.FlowError, match="has no discovery flow 'cmdb'"):
            flows.find_flow(conn, scope, "cmdb")
    assert done["assets_retired"] == 3
    assert {a["current_phase"] for a in _assets(engine, scope).values()} == {"retired"}
    run_stages(engine, KEY)
    # the retired assets still name their (removed) flow: no orphan
    assert _health(engine, scope).health_status == "healthy"


def _health(engine, scope):
    with engine.connect() as conn:
        return measure_wiring_health(conn, scope)


def test_a_new_specs_key_replaces_the_flows_and_a_spec_without_one_keeps_it(engine):
    scope = make_tenant(engine, KEY)
    with engine.begin() as conn:
        flows.add_flow(conn, scope, SPEC, sets=["environment=test"], flow_name="vm")
        keyed = {**SPEC, "key": ["DNS"], "constants": {**SPEC["constants"], "environment": "x"}}
        updated, _ = flows.update_flow(conn, scope, "vm", mappings=keyed)
        assert updated["identity_key_columns"] == ["DNS"]
        unkeyed = {k: v for k, v in keyed.items() if k != "key"}
        kept, _ = flows.update_flow(conn, scope, "vm", mappings=unkeyed)
        assert kept["identity_key_columns"] == ["DNS"]
