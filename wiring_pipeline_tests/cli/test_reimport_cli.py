"""Re-imports as a user types them: `flow add --key`, `import` twice, `import --partial`,
`run`'s summary of what changed, `inventory --include-retired`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from wiring_pipeline.cli.main import cli
from wiring_pipeline_tests.support import reimport_data as data

KEY = "acme.weekly"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def add_flow(tmp_path, mappings: dict, *keys: str):
    path = tmp_path / "mappings.json"
    path.write_text(json.dumps(mappings))
    options = [arg for key in keys for arg in ("--key", key)]
    return invoke("flow", "add", "--partition", KEY, "--mappings", str(path), *options)


def test_flow_add_key_is_repeatable_and_defaults_to_the_hostname_column(engine, tmp_path):
    assert invoke("tenant", "add", KEY).exit_code == 0
    default = add_flow(tmp_path, data.MAPPINGS)
    assert json.loads(default.stdout)["identity_key_columns"] == ["Hostname"]
    explicit = add_flow(tmp_path, data.MAPPINGS, "Rack", "Environment")
    assert json.loads(explicit.stdout)["identity_key_columns"] == ["Rack", "Environment"]
    no_name = add_flow(tmp_path, {"CI Class": "asset_type", "Environment": "environment"})
    assert no_name.exit_code == 2
    assert "neither maps nor sets the critical field(s) name:" in no_name.output
    assert len(no_name.output.strip().splitlines()) == 1


def test_weekly_reimports_from_the_command_line(engine, tmp_path):
    invoke("tenant", "add", KEY)
    flow_id = json.loads(add_flow(tmp_path, data.MAPPINGS).stdout)["flow_id"]
    week1 = str(data.write(tmp_path / "week1.csv", data.week_one()))
    first = invoke("import", week1, "--partition", KEY, "--flow", flow_id)
    assert first.exit_code == 0, first.output
    assert invoke("run", "--partition", KEY).exit_code == 0

    again = invoke("import", week1, "--partition", KEY, "--flow", flow_id)
    assert again.exit_code == 0, again.output
    first_id = json.loads(first.stdout)["id"]
    assert json.loads(again.stdout)["duplicate_of"] == first_id
    assert "nothing registered" in again.stderr

    week2 = str(data.write(tmp_path / "week2.csv", data.week_two()))
    assert invoke("import", week2, "--partition", KEY, "--flow", flow_id).exit_code == 0
    ran = invoke("run", "--partition", KEY)
    assert ran.exit_code == 0, ran.output
    output = json.loads(ran.stdout)
    assert set(output["metrics"].values()) == {0}
    changes = output["inventory_changes"]
    assert {kind: changes[kind] for kind in ("created", "updated", "unchanged", "retired")} == {
        "created": 3,
        "updated": 5,
        "unchanged": 12,
        "retired": 3,
    }
    assert {s["name"] for s in changes["samples"]["created"]} == {"srv21", "srv22", "srv23"}
    summary = "inventory: 3 created, 0 matched, 5 updated, 12 unchanged, 3 retired, 0 revived"
    assert summary in ran.stderr

    current = json.loads(invoke("inventory", "--partition", KEY).stdout)
    everything = json.loads(invoke("inventory", "--partition", KEY, "--include-retired").stdout)
    assert (current["total"], everything["total"]) == (20, 23)
    assert {a["current_phase"] for a in current["assets"]} == {"inventory"}
    retired = {a["name"] for a in everything["assets"] if a["current_phase"] == "retired"}
    assert retired == {"srv01", "srv02", "srv03"}

    partial = str(data.write(tmp_path / "partial.csv", [data.server(40)]))
    registered = invoke("import", partial, "--partition", KEY, "--flow", flow_id, "--partial")
    assert json.loads(registered.stdout)["is_partial"] is True
    invoke("run", "--partition", KEY)
    assert json.loads(invoke("inventory", "--partition", KEY).stdout)["total"] == 21
