"""`token` and `inventory export` as a user types them."""

from __future__ import annotations

import io
import json

import pandas as pd
from click.testing import CliRunner

from wiring_pipeline.cli.main import cli
from wiring_pipeline.domain.inventory import export
from wiring_pipeline.domain.inventory.export import EXPORT_COLUMNS, PROVENANCE_COLUMNS
from wiring_pipeline.samples import cmdb_generator as gen
from wiring_pipeline_tests.support.defects import BROKEN_KEY, build_defect_world
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.pipeline_helpers import register, run_stages

SIZED_KEY = "acme.sized"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_token_create_list_revoke(engine):
    build_defect_world(engine)
    created = run("token", "create", "--partition", BROKEN_KEY, "--name", "grafana")
    assert created.exit_code == 0, created.output
    issued = json.loads(created.stdout)
    assert set(issued) == {"id", "token", "scope"} and issued["scope"] == f"partition:{BROKEN_KEY}"
    assert json.loads(run("token", "create", "--client", "defect").stdout)["scope"] == (
        "client:defect"
    )
    listed = json.loads(run("token", "list").stdout)
    assert [t["name"] for t in listed] == ["grafana", None]
    assert issued["token"] not in run("token", "list").stdout
    revoked = run("token", "revoke", issued["id"])
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["revoked_at"] is not None


def test_token_bad_input_exits_2(engine):
    build_defect_world(engine)
    for args in (
        ["create"],
        ["create", "--admin", "--client", "defect"],
        ["create", "--partition", "defect.nowhere"],
        ["create", "--partition", "no-dot"],
        ["create", "--client", "nobody"],
        ["revoke", "not-a-uuid"],
        ["revoke", "00000000-0000-0000-0000-000000000000"],
    ):
        result = run("token", *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("Error:") and "Traceback" not in result.output


def test_inventory_export_csv_and_xlsx(engine, tmp_path):
    world = build_defect_world(engine)
    csv = run("inventory", "export", "--partition", BROKEN_KEY)
    assert csv.exit_code == 0, csv.output
    frame = pd.read_csv(io.BytesIO(csv.stdout_bytes), encoding="utf-8-sig")
    assert list(frame.columns) == list(EXPORT_COLUMNS)
    assert set(PROVENANCE_COLUMNS) <= set(frame.columns)
    assert len(frame) == len(world.broken.assets)  # every method, broken links included
    target = tmp_path / "inventory.xlsx"
    xlsx = run(
        "inventory", "export", "--partition", BROKEN_KEY, "--format", "xlsx", "-o", str(target)
    )
    assert xlsx.exit_code == 0, xlsx.output
    assert f"wrote {len(frame):,} assets to {target}" in xlsx.stderr
    sheet = pd.read_excel(target, sheet_name="inventory")
    assert list(sheet.columns) == list(EXPORT_COLUMNS)
    assert sorted(sheet["asset_id"]) == sorted(frame["asset_id"])
    assert [p.name for p in tmp_path.iterdir()] == ["inventory.xlsx"]  # nothing left beside it


def test_inventory_export_carries_the_sizing_of_the_source(engine, tmp_path):
    scope = make_tenant(engine, SIZED_KEY)
    flow = make_flow(engine, scope)
    source = tmp_path / "cmdb.csv"
    gen.write_csv(source, gen.iter_cmdb_rows(11, 20))
    register(engine, scope, flow, source)
    run_stages(engine, SIZED_KEY)
    target = tmp_path / "inventory.csv"
    result = run("inventory", "export", "--partition", SIZED_KEY, "-o", str(target))
    assert result.exit_code == 0, result.output
    rows = list(gen.iter_cmdb_rows(11, 20))
    exported = pd.read_csv(target, encoding="utf-8-sig")
    assert len(exported) > 0
    for asset in exported.itertuples():
        row = rows[asset.source_row_number - 2]  # the file's line 1 is its header
        assert (asset.cpu_cores, asset.memory_gb) == (
            int(row["CPU Cores"]),
            float(row["Memory (GB)"]),
        )
        assert (asset.serial_number, asset.model) == (row["Serial Number"], row["Model"])


def test_a_refused_export_leaves_the_output_as_it_was(engine, tmp_path, monkeypatch):
    build_defect_world(engine)
    target = tmp_path / "inventory.xlsx"
    target.write_bytes(b"last week's")
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 1)
    result = run(
        "inventory", "export", "--partition", BROKEN_KEY, "--format", "xlsx", "-o", str(target)
    )
    assert result.exit_code == 2 and "export as csv" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert target.read_bytes() == b"last week's"
    assert [p.name for p in tmp_path.iterdir()] == ["inventory.xlsx"]


def test_inventory_export_bad_input_exits_2(engine, tmp_path):
    build_defect_world(engine)
    for args in (
        ["--partition", "no-dot"],
        ["--partition", "defect.nowhere"],
        ["--partition", BROKEN_KEY, "--format", "xlsx"],
        ["--partition", BROKEN_KEY, "--format", "pdf"],
        [],
    ):
        result = run("inventory", "export", *args)
        assert result.exit_code == 2, (args, result.output)
    assert run("inventory").exit_code == 2
