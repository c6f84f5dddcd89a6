"""`import --check FILE` as a user types it (DESIGN 3f): the problems a run would find, one JSON
line each with the row a person sees, exit 0/1/2, and nothing written but the errors file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from sqlalchemy import text

from wiring_pipeline import settings
from wiring_pipeline.cli.main import cli
from wiring_pipeline_tests.support.export_shapes import real_export
from wiring_pipeline_tests.support.pipeline_helpers import dump_tables

KEY = "acme.check"
MAPPINGS = {
    "Asset Name": "name",
    "CI Class": "asset_type",
    "Environment": "environment",
    "Memory": {"field": "memory_gb", "unit": "MB"},
}
#: Line 1 the header; line 3 lacks its environment, line 4 repeats line 2's key, line 5 has
#: two fields, line 6 starts a record whose quoted name spans two lines and whose memory
#: does not parse (a value left out: the row still reaches the inventory), line 8 is blank.
BROKEN_CSV = (
    "Asset Name,CI Class,Environment,Memory\r\n"
    "srv1,Server,Production,8192\r\n"
    "srv2,Server,,4096\r\n"
    "SRV1 ,Server,Test,2048\r\n"
    "srv3,Server\r\n"
    '"srv4\r\nsecond line",Server,Dev,lots\r\n'
    "\r\n"
    "srv5,Server,Dev,16384\r\n"
)
EXPECTED = [
    {
        "row": 3,
        "column": "Environment",
        "code": "missing_field",
        "message": "missing environment: no value in 'Environment'",
        "rejected": True,
    },
    {
        "row": 4,
        "column": "Asset Name",
        "code": "duplicate_key",
        "message": "duplicate key 'srv1' (first at row 2)",
        "rejected": True,
    },
    {
        "row": 5,
        "column": None,
        "code": "field_count",
        "message": "row has 2 fields, the header has 4",
        "rejected": True,
    },
    {
        "row": 6,
        "column": "Memory",
        "code": "invalid_value",
        "message": "memory_gb left out: 'lots' (not a number)",
        "rejected": False,
    },
]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


@pytest.fixture()
def flow(engine, tmp_path) -> str:
    assert invoke("tenant", "add", KEY).exit_code == 0
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"mappings": MAPPINGS}), encoding="utf-8")
    added = invoke("flow", "add", "--partition", KEY, "--mappings", str(spec), "--name", "cmdb")
    assert added.exit_code == 0, added.output
    return "cmdb"


def check(path: Path, *options: str, flow: str = "cmdb"):
    return invoke("import", "--check", str(path), "--partition", KEY, "--flow", flow, *options)


def stored_copies() -> list[Path]:
    root = settings.imports_dir()
    return sorted(root.rglob("*")) if root.exists() else []


def rejected_rows_of_a_run(engine) -> set[int]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT row_number FROM migration.import_rejected_rows"
                    " UNION SELECT row_number FROM migration.raw_import_records"
                    " WHERE processing_notes LIKE 'Rejected: %'"
                )
            ).scalars()
        )


def test_a_clean_file_exits_0_with_no_lines_and_writes_nothing(engine, flow, tmp_path):
    path = tmp_path / "clean.csv"
    path.write_text(
        "Asset Name,CI Class,Environment,Memory\nsrv1,Server,Production,8192\n", encoding="utf-8"
    )
    before, copies = dump_tables(engine), stored_copies()
    result = check(path)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "1 rows, 0 would not reach the inventory" in result.stderr
    assert dump_tables(engine) == before
    assert stored_copies() == copies


def test_each_problem_is_a_line_at_the_row_a_person_sees_as_a_run_rejects_it(
    engine, flow, tmp_path
):
    path = tmp_path / "broken.csv"
    path.write_bytes(BROKEN_CSV.encode())
    before = dump_tables(engine)
    result = check(path)
    assert result.exit_code == 1, result.output
    assert lines(result.stdout) == EXPECTED
    assert "3 of 6 rows of broken.csv would not reach the inventory" in result.stderr
    assert dump_tables(engine) == before

    assert invoke("import", str(path), "--partition", KEY, "--flow", flow).exit_code == 0
    assert invoke("run", "--partition", KEY).exit_code == 1
    assert rejected_rows_of_a_run(engine) == {p["row"] for p in EXPECTED if p["rejected"]}


def test_an_imported_file_and_other_pending_imports_do_not_change_the_check(engine, flow, tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_bytes(BROKEN_CSV.encode())
    other = tmp_path / "other.csv"
    other.write_text("Asset Name,CI Class,Environment,Memory\nsrvX,Server,,1\n", encoding="utf-8")
    assert invoke("import", str(broken), "--partition", KEY, "--flow", flow).exit_code == 0
    assert invoke("import", str(other), "--partition", KEY, "--flow", flow).exit_code == 0
    before = dump_tables(engine)
    pending = check(broken)
    assert pending.exit_code == 1
    assert lines(pending.stdout) == EXPECTED  # identical to a pending import: checked anyway
    assert dump_tables(engine) == before

    assert invoke("run", "--partition", KEY).exit_code == 1
    before = dump_tables(engine)
    loaded = check(broken)
    assert lines(loaded.stdout) == EXPECTED  # and identical to a loaded one
    assert dump_tables(engine) == before


def test_the_errors_file_of_a_csv_keeps_its_delimiter_encoding_and_lines(engine, flow, tmp_path):
    path = tmp_path / "export-de.csv"
    text_ = "sep=;\r\n" + BROKEN_CSV.replace(",", ";").replace("srv5", "srv-müller")
    path.write_bytes(text_.encode("cp1252"))
    out = tmp_path / "errors.csv"
    result = check(path, "--errors-file", str(out))
    assert result.exit_code == 1, result.output
    problems = lines(result.stdout)
    assert [p["row"] for p in problems] == [p["row"] + 1 for p in EXPECTED]  # the sep= line

    written = out.read_bytes().decode("cp1252")
    assert written.startswith("sep=;\r\n") and "srv-müller" in written
    assert len(written.splitlines()) == len(text_.splitlines())
    records = list(csv.reader(written.splitlines(keepends=True)[1:], delimiter=";"))
    assert records[0] == ["Asset Name", "CI Class", "Environment", "Memory", "error"]
    by_line, line = {}, 3
    for record in records[1:]:
        by_line[line] = record
        line += 1 + sum(cell.count("\n") for cell in record)
    errors = {number: record[-1] for number, record in by_line.items() if record and record[-1]}
    assert errors == {p["row"]: p["message"] for p in problems}
    assert by_line[3] == ["srv1", "Server", "Production", "8192", ""]
    assert by_line[6] == ["srv3", "Server", "", "", "row has 2 fields, the header has 4"]


def test_the_errors_file_of_a_workbook_has_an_error_column_on_the_checked_sheet(
    engine, flow, tmp_path
):
    workbook = Workbook()
    workbook.active.title = "Lookup"
    sheet = workbook.create_sheet("Servers")
    sheet.append(["Server inventory, March"])
    sheet.append(["Asset Name", "CI Class", "Environment", "Memory"])
    sheet.append(["srv1", "Server", "Production", 8192])
    sheet.append(["srv2", "Server", None, 4096])
    sheet.append([])
    sheet.append(["srv1", "Server", "Test", 2048])
    sheet.append(["srv3", "Server", "Dev", "#N/A"])
    path = tmp_path / "servers.xlsx"
    workbook.save(path)
    out = tmp_path / "servers-errors.xlsx"

    result = check(path, "--sheet", "Servers", "--errors-file", str(out))
    assert result.exit_code == 1, result.output
    problems = lines(result.stdout)
    assert [(p["row"], p["column"], p["code"]) for p in problems] == [
        (4, "Environment", "missing_field"),
        (6, "Asset Name", "duplicate_key"),
        (7, "Memory", "invalid_value"),
    ]
    written = load_workbook(out)["Servers"]
    assert written.cell(2, 5).value == "error"
    assert written.cell(1, 5).value is None
    errors = {row: written.cell(row, 5).value for row in range(3, 8)}
    assert errors == {
        3: None,
        4: problems[0]["message"],
        5: None,
        6: problems[1]["message"],
        7: problems[2]["message"],
    }
    assert [c.value for c in written[3]][:4] == ["srv1", "Server", "Production", 8192]


def test_bad_input_exits_2_in_one_line(engine, flow, tmp_path):
    path = tmp_path / "clean.csv"
    path.write_text("Asset Name,CI Class,Environment,Memory\nsrv1,Server,Dev,1\n", encoding="utf-8")
    unknown_flow = check(path, flow="nope")
    assert unknown_flow.exit_code == 2
    assert len(unknown_flow.output.strip().splitlines()) == 1
    assert "has no discovery flow 'nope'" in unknown_flow.output

    missing = check(tmp_path / "missing.csv")
    assert missing.exit_code == 2 and "no such file" in missing.output

    no_check = invoke(
        "import", str(path), "--partition", KEY, "--flow", flow, "--errors-file", "e.csv"
    )
    assert no_check.exit_code == 2 and "--errors-file goes with --check" in no_check.output

    wrong_kind = check(path, "--errors-file", str(tmp_path / "errors.xlsx"))
    assert wrong_kind.exit_code == 2 and "give a name ending in" in wrong_kind.output
    assert not (tmp_path / "errors.xlsx").exists()


TOOLS_OS = "OS according to the VMware Tools"


def test_a_real_export_checks_as_a_run_rejects_it(engine, tmp_path):
    """A wrong identity key for an RVTools workbook as it comes: the VMware Tools OS is empty
    on the VMs without Tools and shared by most others. The check names the rows a run then
    rejects, at their spreadsheet rows, with that column; 2 698 formatted empty rows are no
    rows."""
    path = real_export("SizingWorkshop-RVTools.xlsx")
    assert invoke("tenant", "add", KEY).exit_code == 0
    added = invoke(
        "flow", "add", "--partition", KEY, "--from", str(path), "--name", "rv", "--key", TOOLS_OS
    )
    assert added.exit_code == 0, added.output
    before = dump_tables(engine)
    result = check(path, flow="rv")
    assert result.exit_code == 1, result.output
    problems = lines(result.stdout)
    assert {p["code"] for p in problems} >= {"missing_key", "duplicate_key"}
    assert {p["column"] for p in problems if p["rejected"]} == {TOOLS_OS}
    assert dump_tables(engine) == before

    assert invoke("import", str(path), "--partition", KEY, "--flow", "rv").exit_code == 0
    assert invoke("run", "--partition", KEY).exit_code == 1
    assert rejected_rows_of_a_run(engine) == {p["row"] for p in problems if p["rejected"]}
