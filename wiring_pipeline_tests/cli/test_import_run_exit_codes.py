"""`import` refuses what cannot load (exit 2, one line, nothing registered); `run` exits 1
whenever a source row did not reach the inventory or an import failed (DESIGN 3b, 3c)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from sqlalchemy import text

from wiring_pipeline.cli.main import cli
from wiring_pipeline_tests.support import export_shapes

KEY = "acme.exit-codes"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture()
def flow_for(engine, tmp_path):
    """Adds the partition and a flow with the given mappings; returns the flow's name."""
    assert invoke("tenant", "add", KEY).exit_code == 0

    def add(mappings: dict, name: str = "cmdb") -> str:
        path = tmp_path / f"{name}.mappings.json"
        path.write_text(json.dumps(mappings), encoding="utf-8")
        # A flow must map or set every critical field; what these files lack is set.
        sets = [
            arg
            for field in ("name", "asset_type", "environment")
            if field not in mappings.values()
            for arg in ("--set", f"{field}=unknown")
        ]
        added = invoke(
            "flow", "add", "--partition", KEY, "--mappings", str(path), "--name", name, *sets
        )
        assert added.exit_code == 0, added.output
        return name

    return add


def import_file(path: Path, flow: str, *options: str):
    return invoke("import", str(path), "--partition", KEY, "--flow", flow, *options)


def imports_registered(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM migration.data_imports")).scalar_one()


def test_a_misspelt_mapping_is_refused_naming_the_closest_header(engine, tmp_path, flow_for):
    shape = export_shapes.windows_1252_semicolon(tmp_path)
    flow = flow_for({"Asset Name": "name", "CI Class": "asset_type", "Enviroment": "environment"})
    result = import_file(shape.path, flow)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "mapped column 'Enviroment' is not in the header (closest: 'Environment')" in (
        result.output
    )
    assert imports_registered(engine) == 0


@pytest.mark.parametrize(
    ("content", "options", "fragment"),
    [
        (b"Name,Notes,Notes\nx,a,b\n", (), "mapped column 'Notes' is ambiguous"),
        (b"", (), "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", (), "not a text file"),
        (b"Name,Notes\nx,a\n", ("--encoding", "nope"), "unknown encoding 'nope'"),
    ],
)
def test_files_that_cannot_load_exit_2_and_register_nothing(
    engine, tmp_path, flow_for, content, options, fragment
):
    flow = flow_for({"Name": "name", "Notes": "description"})
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = import_file(path, flow, *options)
    assert result.exit_code == 2, result.output
    assert fragment in result.output and result.output.count("\n") == 1
    assert imports_registered(engine) == 0


def test_a_workbook_whose_visible_sheets_lack_the_columns_lists_its_sheets(
    engine, tmp_path, flow_for
):
    flow = flow_for({"Name": "name"})
    workbook = Workbook()
    workbook.active.title = "Servers"
    workbook.active.append(["Name"])
    workbook.active.sheet_state = "hidden"
    workbook.create_sheet("Readme").append(["About this export"])
    path = tmp_path / "hidden.xlsx"
    workbook.save(path)
    result = import_file(path, flow)
    assert result.exit_code == 2
    assert "the workbook has: Servers (hidden), Readme" in result.output
    assert import_file(path, flow, "--sheet", "Servers").exit_code == 0


def test_a_complete_run_exits_0_and_accounts_for_every_row(engine, tmp_path, flow_for):
    shape = export_shapes.header_case(tmp_path)
    flow = flow_for(shape.mappings)
    imported = import_file(shape.path, flow)
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["encoding"] == "utf-8"
    result = invoke("run", "--partition", KEY)
    assert result.exit_code == 0, result.output
    assert (
        "1 source rows: 1 loaded, 0 rejected at load, 0 rejected in cleansing, 1 in the inventory"
        in (result.stderr)
    )


def test_rows_rejected_at_load_or_in_cleansing_make_run_exit_1(engine, tmp_path, flow_for):
    shape = export_shapes.jsonl_bom_broken(tmp_path)
    flow = flow_for(shape.mappings)
    no_env = tmp_path / "no-env.csv"
    no_env.write_text(
        "Asset Name,CI Class,Environment,Propriétaire\nweb-9,Server,,Ann\n", encoding="utf-8"
    )
    assert import_file(shape.path, flow).exit_code == 0
    other = flow_for(shape.mappings, name="second")
    assert import_file(no_env, other).exit_code == 0

    result = invoke("run", "--partition", KEY)

    assert result.exit_code == 1
    health = json.loads(result.stdout)
    assert health["health_status"] == "healthy"
    assert health["metrics"]["source_rows_not_in_inventory"] == 3
    assert (
        "5 source rows: 3 loaded, 2 rejected at load, 0 rejected in cleansing, 3 in the inventory"
        in (result.stderr)
    )
    assert "rejected in cleansing: Rejected: missing critical field(s): environment (1)" in (
        result.stderr
    )
    assert "3 source rows did not reach the inventory" in result.stderr


def test_an_import_that_fails_at_run_makes_run_exit_1(engine, tmp_path, flow_for):
    shape = export_shapes.sep_line(tmp_path)
    flow = flow_for(shape.mappings)
    imported = import_file(shape.path, flow)
    Path(json.loads(imported.stdout)["stored_path"]).unlink()  # lost after registration
    result = invoke("run", "--partition", KEY)
    assert result.exit_code == 1
    assert "FAILED: servers-sep.csv: the stored file" in result.stderr
    assert "import servers-sep.csv failed" in result.stderr
