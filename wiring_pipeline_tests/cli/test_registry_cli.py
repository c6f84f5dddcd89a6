"""The registration commands, as a user types them."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import text

from wiring_pipeline.cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_db_url_prints_the_configured_database(server_urls):
    result = run("db", "url")
    assert result.exit_code == 0
    assert result.output.strip() == server_urls["app"]


def test_tenant_flow_import_round_trip(engine, tmp_path):
    added = run("tenant", "add", "acme.dc-exit", "--client-name", "Acme Corp")
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["created"] is True
    assert run("tenant", "list").output.split() == ["acme.dc-exit"]

    mappings = tmp_path / "mappings.json"
    mappings.write_text(json.dumps({"Asset Name": "name", "CI Class": "asset_type"}))
    flow = run(
        "flow",
        "add",
        "--partition",
        "acme.dc-exit",
        "--mappings",
        str(mappings),
        "--name",
        "cmdb",
        "--set",
        "environment=production",
    )
    assert flow.exit_code == 0, flow.output
    flow_id = json.loads(flow.output)["flow_id"]
    listed = json.loads(run("flow", "list", "--partition", "acme.dc-exit").output)
    assert [(f["flow_id"], f["flow_name"]) for f in listed] == [(flow_id, "cmdb")]

    export = tmp_path / "export.csv"
    export.write_text("Asset Name,CI Class\nsrv1,Server\n")
    imported = run("import", str(export), "--partition", "acme.dc-exit", "--flow", flow_id)
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.output)["status"] == "pending"


def test_bad_input_exits_2_with_a_message(engine, tmp_path):
    assert run("tenant", "add", "acme.dc-exit").exit_code == 0
    bad_key = run("tenant", "add", "Acme")
    assert bad_key.exit_code == 2 and "malformed" in bad_key.output

    mappings = tmp_path / "mappings.json"
    mappings.write_text(json.dumps({"Host": "host_name"}))
    bad_flow = run("flow", "add", "--partition", "acme.dc-exit", "--mappings", str(mappings))
    assert bad_flow.exit_code == 2 and "unknown target field" in bad_flow.output

    mappings.write_text("{not json")
    not_json = run("flow", "add", "--partition", "acme.dc-exit", "--mappings", str(mappings))
    assert not_json.exit_code == 2 and "not a JSON file" in not_json.output

    unknown = run("import", str(mappings), "--partition", "initech.x", "--flow", "cmdb")
    assert unknown.exit_code == 2 and "no client account with slug 'initech'" in unknown.output


def test_a_repeated_tenant_add_succeeds_and_a_repeated_flow_id_is_one_line(engine, tmp_path):
    first = run("tenant", "add", "acme.dc-exit")
    again = run("tenant", "add", "acme.dc-exit")
    assert first.exit_code == again.exit_code == 0
    assert json.loads(again.output) == {**json.loads(first.output), "created": False}

    mappings = tmp_path / "mappings.json"
    mappings.write_text(json.dumps({"Asset Name": "name", "CI Class": "asset_type"}))
    flow_id = "3f2b8a4e-1c5d-4e6f-9a7b-0c1d2e3f4a5b"
    add = ("flow", "add", "--partition", "acme.dc-exit", "--mappings", str(mappings), "--set")
    add = (*add, "environment=test")
    assert run(*add, "--flow-id", flow_id, "--name", "cmdb").exit_code == 0
    taken = run(*add, "--flow-id", flow_id, "--name", "cmdb again")
    assert taken.exit_code == 2
    assert taken.output.splitlines() == [
        f"Error: partition 'acme.dc-exit' already has a flow with flow_id {flow_id}"
    ]
    listed = json.loads(run("flow", "list", "--partition", "acme.dc-exit").output)
    assert [f["flow_name"] for f in listed] == ["cmdb"]


def test_a_pending_import_is_discarded_and_never_loads(engine, tmp_path):
    assert run("tenant", "add", "acme.dc-exit").exit_code == 0
    mappings = tmp_path / "mappings.json"
    mappings.write_text(json.dumps({"Asset Name": "name", "CI Class": "asset_type"}))
    add = ("flow", "add", "--partition", "acme.dc-exit", "--mappings", str(mappings))
    assert run(*add, "--name", "cmdb", "--set", "environment=test").exit_code == 0
    export = tmp_path / "export.csv"
    export.write_text("Asset Name,CI Class\nsrv1,Server\n")
    imported = run("import", str(export), "--partition", "acme.dc-exit", "--flow", "cmdb")
    import_id = json.loads(imported.output)["id"]

    discarded = run("import", "discard", import_id, "--partition", "acme.dc-exit")
    assert discarded.exit_code == 0, discarded.output
    assert json.loads(discarded.output)["status"] == "discarded"
    again = run("import", "discard", import_id, "--partition", "acme.dc-exit")
    assert again.exit_code == 2
    assert again.output.strip() == (
        f"Error: import {import_id} is discarded, not pending: there is nothing to discard"
    )
    ran = run("run", "--partition", "acme.dc-exit")
    assert ran.exit_code == 0, ran.output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM migration.raw_import_records")).scalar() == 0
    # The same file can be registered again: a discarded import is no earlier copy of it.
    reimported = run("import", str(export), "--partition", "acme.dc-exit", "--flow", "cmdb")
    assert "duplicate_of" not in json.loads(reimported.output)
