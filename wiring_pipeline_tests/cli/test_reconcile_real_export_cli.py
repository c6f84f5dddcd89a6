"""Issue 23's acceptance on a real export: RVTools as it comes plus a CMDB list of 25 of its
servers (FQDN or upper-case name, same IPs) and 5 physical ones is one asset per machine."""

from __future__ import annotations

import json
from collections import Counter

from click.testing import CliRunner
from sqlalchemy import text

from wiring_pipeline.cli.main import cli
from wiring_pipeline_tests.support.csv_rows import write_csv_rows
from wiring_pipeline_tests.support.export_shapes import real_export

KEY = "real.reconcile"
CMDB_SPEC = {
    "mappings": {
        "Server": "name",
        "FQDN": "hostname",
        "IP Address": "ip_address",
        "Environment": "environment",
        "Owner": "owner",
    },
    "constants": {"asset_type": "server"},
    "key": ["Server"],
}


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def vms(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT name, fqdn, ip_address FROM migration.assets ORDER BY name")
        ).all()


def cmdb_rows(machines) -> list[dict]:
    """25 VMs whose short name no other VM has, as a CMDB writes them, and 5 physical hosts."""
    shorts = Counter(m.name.split(".")[0].lower() for m in machines)
    chosen = [m for m in machines if shorts[m.name.split(".")[0].lower()] == 1][:25]
    rows = [
        {
            "Server": (m.fqdn or m.name).upper(),
            "FQDN": m.fqdn or "",
            "IP Address": m.ip_address or "",
            "Environment": "Production",
            "Owner": "infra",
        }
        for m in chosen
    ]
    rows += [
        {"Server": f"PHYS-{n:02d}", "FQDN": f"phys-{n:02d}.dc.example", "IP Address": "",
         "Environment": "Production", "Owner": "facilities"}
        for n in range(1, 6)
    ]  # fmt: skip
    return rows


def test_rvtools_and_a_cmdb_of_25_of_its_servers_give_one_asset_per_machine(engine, tmp_path):
    workbook = real_export("SizingWorkshop-RVTools.xlsx")
    assert run("tenant", "add", KEY).exit_code == 0
    added = run("flow", "add", "--partition", KEY, "--from", str(workbook), "--name", "rvtools")
    assert added.exit_code == 0, added.output
    assert run("import", str(workbook), "--partition", KEY, "--flow", "rvtools").exit_code == 0
    assert run("run", "--partition", KEY).exit_code == 0
    machines = vms(engine)
    assert len(machines) == 805

    spec = tmp_path / "cmdb.json"
    spec.write_text(json.dumps(CMDB_SPEC))
    cmdb = write_csv_rows(tmp_path / "cmdb.csv", cmdb_rows(machines))
    assert (
        run("flow", "add", "--partition", KEY, "--mappings", str(spec), "--name", "cmdb").exit_code
        == 0
    )
    assert run("import", str(cmdb), "--partition", KEY, "--flow", "cmdb").exit_code == 0
    ran = run("run", "--partition", KEY)
    assert ran.exit_code == 0, ran.output
    assert "25 matched" in ran.output and "5 created" in ran.output, ran.output
    # The 25 records that joined RVTools' machines reached the inventory too.
    assert (
        "30 source rows: 30 loaded, 0 rejected at load, 0 rejected in cleansing, "
        "30 in the inventory" in ran.stderr
    ), ran.stderr

    report = json.loads(run("inventory", "coverage", "--partition", KEY).stdout)
    assert report["assets"] == 805 + 5
    by_sources = {tuple(c["sources"]): c["assets"] for c in report["combinations"]}
    assert by_sources == {("rvtools",): 805 - 25, ("rvtools", "cmdb"): 25, ("cmdb",): 5}
    with engine.connect() as conn:
        records_per_shared_asset = conn.execute(
            text(
                "SELECT count(*) FROM migration.raw_import_records r"
                " WHERE r.superseded_by IS NULL AND r.asset_id IN ("
                "   SELECT asset_id FROM migration.asset_sources"
                "   GROUP BY asset_id HAVING count(*) = 2)"
                " GROUP BY r.asset_id"
            )
        ).scalars()
        assert list(records_per_shared_asset) == [2] * 25  # each linked to both records
    health = json.loads(run("health", "--partition", KEY).stdout)
    assert health["health_status"] == "healthy", health
    assert all(
        count == 0
        for name, count in health["metrics"].items()
        if name not in ("source_rows_not_in_inventory", "asset_field_conflicts")
    ), health["metrics"]


def test_flow_add_precedence_ranks_the_flow_and_defaults_to_the_order_of_addition(engine, tmp_path):
    spec = tmp_path / "cmdb.json"
    spec.write_text(json.dumps(CMDB_SPEC))
    assert run("tenant", "add", KEY).exit_code == 0
    first = run("flow", "add", "--partition", KEY, "--mappings", str(spec), "--name", "a")
    second = run("flow", "add", "--partition", KEY, "--mappings", str(spec), "--name", "b")
    ranked = run(
        "flow", "add", "--partition", KEY, "--mappings", str(spec), "--name", "c",
        "--precedence", "0",
    )  # fmt: skip
    assert [json.loads(r.stdout)["precedence"] for r in (first, second, ranked)] == [1, 2, 0]
    refused = run("flow", "add", "--partition", KEY, "--mappings", str(spec), "--precedence", "x")
    assert refused.exit_code == 2
