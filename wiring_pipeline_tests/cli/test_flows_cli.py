"""`flow add | list | update | remove` from the command line: specs, one-line refusals."""

from __future__ import annotations

import json

from click.testing import CliRunner

from wiring_pipeline.cli.main import cli

KEY = "acme.flows"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_flow_is_added_listed_updated_and_removed(engine, tmp_path):
    assert run("tenant", "add", KEY).exit_code == 0
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "mappings": {"VM": "name", "Memory": {"field": "memory_gb", "unit": "MiB"}},
                "constants": {"asset_type": "virtual_machine"},
                "sheet": "vInfo",
            }
        )
    )
    add = ("flow", "add", "--partition", KEY, "--mappings", str(spec), "--name", "rvtools")

    refused = run(*add)
    assert refused.exit_code == 2
    assert refused.output.splitlines() == [
        "Error: the flow neither maps nor sets the critical field(s) environment: every row "
        "would be rejected; map a column to each, or set a value with --set FIELD=VALUE"
    ]
    added = run(*add, "--set", "environment=unknown")
    assert added.exit_code == 0, added.output
    shown = json.loads(added.output)["spec"]
    assert shown["mappings"]["Memory"] == {"field": "memory_gb", "unit": "MiB"}
    assert shown["constants"] == {"asset_type": "virtual_machine", "environment": "unknown"}
    assert shown["key"] == ["VM"] and shown["sheet"] == "vInfo"
    again = run(*add, "--set", "environment=unknown")
    assert again.exit_code == 2
    assert again.output.strip() == f"Error: partition '{KEY}' already has a flow named 'rvtools'"

    updated = run(
        "flow", "update", "--partition", KEY, "--flow", "RVTools", "--set", "environment=prod"
    )
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.output)["spec"]["constants"]["environment"] == "prod"
    listed = json.loads(run("flow", "list", "--partition", KEY).output)
    assert [(f["flow_name"], f["current_assets"]) for f in listed] == [("rvtools", 0)]

    removed = run("flow", "remove", "--partition", KEY, "--flow", "rvtools")
    assert removed.exit_code == 0, removed.output
    assert json.loads(run("flow", "list", "--partition", KEY).output) == []
    gone = run("flow", "update", "--partition", KEY, "--flow", "rvtools", "--set", "owner=x")
    assert gone.exit_code == 2
    assert "has no discovery flow 'rvtools'" in gone.output
