"""Row numbers are the row a person sees in the file (DESIGN 3d): the CSV line a record
starts on, the spreadsheet row, the line of JSON Lines, at the readers."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from wiring_pipeline.domain.ingest.sources import SourceOptions, open_source


def numbered(path: Path, fmt: str, **options) -> list[tuple[int, str | None, str | None]]:
    """(row number, the Name cell, the rejection) of each row."""
    with open_source(path, path.name, SourceOptions(fmt, **options)) as source:
        return [
            (row.row_number, (row.cells or {}).get("Name"), row.rejection) for row in source.rows
        ]


def test_csv_rows_are_numbered_by_the_line_they_start_on(tmp_path):
    path = tmp_path / "servers.csv"
    path.write_bytes(
        b"sep=;\r\n"  # line 1: Excel's delimiter hint
        b"Name;Notes\r\n"  # line 2: the header
        b"web-1;plain\r\n"  # line 3
        b'db-1;"three\r\nline\r\nnote"\r\n'  # lines 4-6: one record
        b"\r\n"  # line 7: blank, no row
        b"too;many;fields\r\n"  # line 8: rejected, at its line
        b'app-1;"two\nlines"\r\n'  # lines 9-10
        b"last;x\r\n"  # line 11
    )
    assert numbered(path, "csv") == [
        (3, "web-1", None),
        (4, "db-1", None),
        (8, None, "row has 3 fields, the header has 2"),
        (9, "app-1", None),
        (11, "last", None),
    ]


def test_csv_without_a_sep_line_counts_the_header_as_line_one(tmp_path):
    path = tmp_path / "servers.csv"
    path.write_text("\ufeffName,Env\nweb-1,Production\n\n\ndb-1,Test\n", encoding="utf-8")
    assert [number for number, _, _ in numbered(path, "csv")] == [2, 5]


def test_spreadsheet_rows_are_numbered_as_excel_numbers_them(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Servers"
    sheet["A1"] = "Inventory export, 2024-05-01"  # a title row
    sheet["A3"], sheet["B3"] = "Name", "Env"  # the header, on row 3 (row 2 is empty)
    sheet["A4"], sheet["B4"] = "web-1", "Production"
    sheet["A5"], sheet["B5"] = "db-1", None
    sheet.merge_cells("B4:B5")  # merged rows count as their own rows
    # row 6 is empty (no cells at all), row 7 only formatted: neither is a row
    sheet["B7"].number_format = "0.00"
    sheet["A8"], sheet["B8"], sheet["C8"] = "app-1", "Test", "extra"
    sheet["A10"], sheet["B10"] = "last", "Dev"
    path = tmp_path / "servers.xlsx"
    workbook.save(path)
    assert numbered(path, "xlsx", mapped_columns=("Name",)) == [
        (4, "web-1", None),
        (5, "db-1", None),
        (8, "app-1", None),  # the value under no header is ignored with its column
        (10, "last", None),
    ]


def test_a_header_on_row_one_puts_the_first_data_row_on_row_two(tmp_path):
    workbook = Workbook()
    for row in (["Name"], ["web-1"], ["db-1"]):
        workbook.active.append(row)
    path = tmp_path / "plain.xlsx"
    workbook.save(path)
    assert [number for number, _, _ in numbered(path, "xlsx")] == [2, 3]


def test_json_lines_rows_are_their_lines_blank_lines_counted(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"Name": "web-1"}\r\n'  # line 1, after a BOM
        b"\r\n"  # line 2: blank
        b"   \n"  # line 3: blank
        b"{broken\n"  # line 4
        b'{"Name": "db-1"}\n'  # line 5
        b"\n"
        b'{"Name": "last"}'  # line 7, no final line break
    )
    rows = numbered(path, "jsonl")
    assert [(number, name) for number, name, _ in rows] == [
        (1, "web-1"),
        (4, None),
        (5, "db-1"),
        (7, "last"),
    ]
    assert rows[1][2].startswith("is not valid JSON: ")
