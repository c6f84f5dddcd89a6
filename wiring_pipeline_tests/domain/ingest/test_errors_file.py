"""The errors file: the file's rows again, in its format, on their row numbers, with the
check's messages in one added column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from wiring_pipeline.domain.ingest.errors_file import (
    ErrorsFileError,
    check_errors_path,
    error_column,
    write_errors_file,
)
from wiring_pipeline.domain.ingest.sources import SourceOptions


def write(path: Path, out: Path, options: SourceOptions, errors, first_row=None) -> None:
    write_errors_file(path, out, options, errors, filename=path.name, first_row=first_row)


def test_a_csv_keeps_its_bom_line_endings_and_puts_the_error_after_the_widest_row(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes("\ufeffName,Env\nweb-1,Prod\nweb-2,Test,extra,more\nweb-3,Dev\n".encode())
    out = tmp_path / "out.csv"
    write(path, out, SourceOptions("csv", "utf-8-sig"), [(3, "row has 4 fields"), (4, "a; b")])
    assert out.read_bytes().decode() == (
        "\ufeffName,Env,,,error\n"
        "web-1,Prod,,,\n"
        "web-2,Test,extra,more,row has 4 fields\n"
        "web-3,Dev,,,a; b\n"
    )


def test_a_message_the_encoding_lacks_is_shown_not_refused(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes("Name\nM\xfcller\n".encode("latin-1"))
    out = tmp_path / "out.csv"
    write(path, out, SourceOptions("csv", "cp1252"), [(2, "duplicate key 'müller' → row 9")])
    assert out.read_bytes().decode("cp1252") == (
        "Name,error\nMüller,duplicate key 'müller' ? row 9\n"
    )


def test_json_lines_keep_their_line_numbers_and_an_error_key(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"Name": "web-1", "Tags": [{"Key": "Env", "Value": "Prod"}]}\n\nnot json\n'
        '{"Name": "web-2", "error": "theirs"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    write(path, out, SourceOptions("jsonl", "utf-8", mapped_columns=("Name",)), [(3, "bad")])
    written = out.read_text(encoding="utf-8").split("\n")
    assert written[1] == ""
    assert json.loads(written[0]) == {"Name": "web-1", "Tags.Env": "Prod", "error": None}
    assert json.loads(written[2]) == {"raw_text": "not json", "error": "bad"}
    assert json.loads(written[3]) == {"Name": "web-2", "error": "theirs", "error_2": None}


def test_a_worksheet_keeps_its_rows_and_text_that_looks_like_a_formula(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Servers"
    sheet.append(["Inventory"])
    sheet.append(["Name", "Error", "Note"])
    sheet.append(["web-1", None, "=not a formula"])
    sheet["C3"].data_type = "s"  # typed text, as Excel keeps `'=…`
    sheet.append([])
    sheet.append(["web-2", None, None])
    path = tmp_path / "in.xlsx"
    workbook.save(path)
    out = tmp_path / "out.xlsx"
    options = SourceOptions("xlsx", sheet_name="Servers")
    write(path, out, options, [(5, "missing environment")], first_row=3)
    written = load_workbook(out)["Servers"]
    assert [[cell.value for cell in row] for row in written.iter_rows()] == [
        ["Inventory", None, None, None],
        ["Name", "Error", "Note", "error_2"],
        ["web-1", None, "=not a formula", None],
        [None, None, None, None],
        ["web-2", None, None, "missing environment"],
    ]
    assert written.cell(3, 3).data_type == "s"


def test_the_errors_path_must_hold_the_source_format(tmp_path):
    source = tmp_path / "export.json"
    source.write_text("[]", encoding="utf-8")
    check_errors_path(source, tmp_path / "errors.jsonl")
    with pytest.raises(ErrorsFileError, match="give a name ending in .jsonl or .ndjson"):
        check_errors_path(source, tmp_path / "errors.json")
    with pytest.raises(ErrorsFileError, match="unsupported file type"):
        check_errors_path(source, tmp_path / "errors.pdf")
    csv_source = tmp_path / "export.csv"
    csv_source.write_text("Name\n", encoding="utf-8")
    with pytest.raises(ErrorsFileError, match="the checked file itself"):
        check_errors_path(csv_source, csv_source)
    with pytest.raises(ErrorsFileError, match="no such directory"):
        check_errors_path(csv_source, tmp_path / "nowhere" / "errors.csv")


def test_the_error_column_is_named_past_the_files_own():
    assert error_column(["Name", None]) == "error"
    assert error_column(["ERROR ", "error_2"]) == "error_3"
