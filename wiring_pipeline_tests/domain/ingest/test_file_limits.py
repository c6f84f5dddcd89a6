"""Files that cannot exhaust the machine (DESIGN 3f, issue 24): each shape an attack used,
and each documented limit, refused in one line naming the limit, by the readers, at `import`
and at `run`; real exports still read; repeated header names still named as before.

No test times anything: the shapes are the attack's own (five million cells in a row,
400 MB of shared strings), so a reader that held them would fail here by memory, not by a
clock.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from wiring_pipeline.domain.ingest.registry import RegistryError
from wiring_pipeline.domain.ingest.sources import (
    SourceOptions,
    UnreadableFileError,
    open_source,
    sniff_source,
    workbook_scan,
)
from wiring_pipeline.domain.ingest.sources.limits import (
    COLUMNS,
    CSV_RECORD_CHARS,
    HEADER_NAME_CHARS,
    JSON_DEPTH,
    LIMITS,
    XLSX_CELLS,
    XLSX_MERGED_RANGES,
    XLSX_PART_ELEMENTS,
    XLSX_ROWS,
    XLSX_SHARED_STRINGS,
    XLSX_SHARED_STRINGS_BYTES,
    Limit,
)
from wiring_pipeline.domain.ingest.sources.rows import FileLimitError, make_header
from wiring_pipeline_tests.support import hostile_files as hostile
from wiring_pipeline_tests.support.export_shapes import real_export
from wiring_pipeline_tests.support.factories import make_name_only_tenant
from wiring_pipeline_tests.support.loaded_rows import import_row, raw_rows
from wiring_pipeline_tests.support.pipeline_helpers import register, run_stages

KEY = "acme.file-limits"

#: name -> (builder, format, the limit it breaks, what the line says it found).
HOSTILE = {
    "one-row.xlsx": (
        hostile.one_row_workbook,
        "xlsx",
        COLUMNS,
        "sheet 'Data' row 1 has more than 2,048 cells",
    ),
    "strings-bomb.xlsx": (
        hostile.shared_strings_bomb,
        "xlsx",
        XLSX_SHARED_STRINGS_BYTES,
        "its shared strings are 419,436,915 bytes of XML",
    ),
    "dimension.xlsx": (
        hostile.declared_dimension_workbook,
        "xlsx",
        COLUMNS,
        "sheet 'Data' declares 16,384 columns",
    ),
    "x-20000.csv": (
        hostile.repeated_name_csv,
        "csv",
        COLUMNS,
        "the header has 20,000 columns",
    ),
    "x-40000.csv": (
        lambda path: hostile.repeated_name_csv(path, 40_000),
        "csv",
        COLUMNS,
        "the header has 40,000 columns",
    ),
    "huge-field.csv": (
        lambda path: hostile.huge_field_csv(path, megabytes=17),
        "csv",
        CSV_RECORD_CHARS,
        "the record starting at line 2 runs past 16,777,216 characters",
    ),
}


def refusal(path: Path, fmt: str) -> str:
    with pytest.raises(FileLimitError) as refused:
        with open_source(path, path.name, SourceOptions(fmt)) as source:
            for _ in source.rows:
                pass
    return str(refused.value)


def line(filename: str, found: str, limit: Limit) -> str:
    return f"{filename}: {found}; the limit is {limit.value:,} {limit.unit} ({limit.name})"


@pytest.mark.parametrize("name", HOSTILE)
def test_each_hostile_file_is_refused_by_the_reader_in_one_line(tmp_path, name):
    build, fmt, limit, found = HOSTILE[name]
    path = build(tmp_path / name)
    assert refusal(path, fmt) == line(name, found, limit)


def test_the_attack_files_are_as_small_as_the_attack_said(tmp_path):
    """The builders make the attack's shapes, not tamer ones: small files, huge content."""
    one_row = hostile.one_row_workbook(tmp_path / "one-row.xlsx")
    bomb = hostile.shared_strings_bomb(tmp_path / "bomb.xlsx")
    dimension = hostile.declared_dimension_workbook(tmp_path / "dimension.xlsx")
    assert one_row.stat().st_size < 600_000 and bomb.stat().st_size < 1_000_000
    assert dimension.stat().st_size < 2_500
    with zipfile.ZipFile(bomb) as archive:
        assert archive.getinfo("xl/sharedStrings.xml").file_size > 400_000_000
    assert hostile.repeated_name_csv(tmp_path / "x.csv").stat().st_size == 40_000
    assert hostile.repeated_name_csv(tmp_path / "x.csv", 40_000).stat().st_size == 80_000


@pytest.mark.parametrize(
    ("build", "limit", "found"),
    [
        (
            lambda path: hostile.many_shared_strings(path, 1_000_001),
            XLSX_SHARED_STRINGS,
            "it has at least 1,000,001 shared strings",
        ),
        (
            lambda path: hostile.workbook(
                path, [hostile.text_row(1, ["Name"]), b'<row r="2"><c r="XFD2"><v>1</v></c></row>']
            ),
            COLUMNS,
            "sheet 'Data' row 2 reaches column 16,384",
        ),
        (
            lambda path: hostile.workbook(
                path, [hostile.text_row(1, ["Name"]), b'<row r="2e6"><c><v>1</v></c></row>']
            ),
            XLSX_ROWS,
            "sheet 'Data' has a row numbered 2,000,000",
        ),
        (
            lambda path: hostile.declared_dimension_workbook(path, "A1:Z1000000"),
            XLSX_CELLS,
            "sheet 'Data' declares 26,000,000 cells",
        ),
        (
            lambda path: hostile.merged_ranges_workbook(
                path, [f"A{row}:B{row}" for row in range(3, 100_004)]
            ),
            XLSX_MERGED_RANGES,
            "sheet 'Data' has 100,001 merged ranges",
        ),
        (
            lambda path: hostile.merged_ranges_workbook(path, ["C1:D1", "A1:XFD1"]),
            COLUMNS,
            "sheet 'Data' merges cells up to column 16,384",
        ),
        (
            lambda path: hostile.styles_workbook(path, 300_000),
            XLSX_PART_ELEMENTS,
            "part xl/styles.xml has 300,002 elements",
        ),
        (
            lambda path: hostile.one_row_workbook(path, prefix="x"),
            COLUMNS,
            "sheet 'Data' row 1 has more than 2,048 cells",
        ),
    ],
    ids=[
        "shared-strings",
        "row-width",
        "row-number",
        "declared-cells",
        "merged-ranges",
        "merged-width",
        "part-elements",
        "prefixed-sheet",
    ],
)
def test_each_workbook_limit_is_refused_before_openpyxl_reads_the_part(
    tmp_path, build, limit, found
):
    path = build(tmp_path / "hostile.xlsx")
    assert refusal(path, "xlsx") == line("hostile.xlsx", found, limit)


def test_a_row_whose_xml_is_past_its_limit_is_refused_while_it_is_read(tmp_path):
    rows = [hostile.text_row(1, ["Name"]), hostile.text_row(2, ["y" * (17 << 20)])]
    path = hostile.workbook(tmp_path / "long-row.xlsx", rows)
    message = refusal(path, "xlsx")
    assert re.fullmatch(
        r"long-row\.xlsx: sheet 'Data' row 2 is at least [\d,]+ bytes of XML; the limit is"
        r" 16,777,216 bytes \(max_xlsx_row_bytes\)",
        message,
    )


def test_a_prefix_bound_deep_in_a_sheet_is_followed(tmp_path):
    """A row under a prefix bound after the first block is still a row to openpyxl, so the
    scan starts again under every prefix the sheet binds."""
    ordinary = [hostile.text_row(number, ["web", "x" * 600]) for number in range(1, 2_001)]
    late = (
        f'<y:row xmlns:y="{hostile.MAIN_NS}" r="2001">'.encode()
        + b"<y:c><y:v>1</y:v></y:c>" * 3_000
        + b"</y:row>"
    )
    path = hostile.workbook(tmp_path / "late.xlsx", [*ordinary, late])
    found = "sheet 'Data' row 2001 has more than 2,048 cells"
    assert refusal(path, "xlsx") == line("late.xlsx", found, COLUMNS)


def test_the_cells_of_a_sheet_and_of_its_merged_ranges_count_together(tmp_path, monkeypatch):
    small = Limit(XLSX_CELLS.name, 10, XLSX_CELLS.unit, XLSX_CELLS.why)
    monkeypatch.setattr(workbook_scan, "XLSX_CELLS", small)
    rows = [hostile.text_row(number, ["a", "b"]) for number in range(1, 5)]
    path = hostile.workbook(tmp_path / "cells.xlsx", rows)
    with open_source(path, path.name, SourceOptions("xlsx")) as source:
        assert len(list(source.rows)) == 3  # eight cells: within the limit
    merged = b'<mergeCells count="1"><mergeCell ref="A2:B3"/></mergeCells>'
    path = hostile.workbook(tmp_path / "merged.xlsx", rows, after_rows=merged)
    found = "sheet 'Data' has 12 cells with its merged ranges filled"
    assert refusal(path, "xlsx") == line("merged.xlsx", found, small)


def test_a_part_compressed_otherwise_than_excel_does_is_not_decompressed(tmp_path):
    path = hostile.declared_dimension_workbook(tmp_path / "plain.xlsx", "A1:A2")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("xl/extra.xml", b"<a/>" * 1000, compress_type=zipfile.ZIP_BZIP2)
    with pytest.raises(UnreadableFileError, match="part xl/extra.xml is compressed with method 12"):
        with open_source(path, path.name, SourceOptions("xlsx")):
            pass


def test_a_header_name_past_its_limit_is_refused(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("Name," + "n" * 2_000 + "\nweb-1,x\n", encoding="utf-8")
    found = "a column name of the header is 2,000 characters long"
    assert refusal(path, "csv") == line("long.csv", found, HEADER_NAME_CHARS)


def test_a_json_record_too_deep_or_too_wide_is_a_rejected_row(tmp_path):
    deep: dict = {"leaf": 1}
    for _ in range(JSON_DEPTH.value):
        deep = {"level": deep}
    wide = {f"key{n}": n for n in range(COLUMNS.value + 1)}
    path = tmp_path / "records.jsonl"
    lines = [json.dumps(deep), json.dumps(wide), json.dumps({"Name": "ok"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open_source(path, path.name, SourceOptions("jsonl")) as source:
        rows = list(source.rows)
    assert [row.rejection for row in rows] == [
        JSON_DEPTH.exceeded("nests objects more than 64 levels deep"),
        COLUMNS.exceeded("has 2,049 columns"),
        None,
    ]


def test_every_limit_is_declared_once_with_its_reason():
    names = [limit.name for limit in LIMITS]
    assert len(set(names)) == len(names)
    assert all(limit.value > 0 and limit.why for limit in LIMITS)


# --- real exports, and header names --------------------------------------------------------


def test_a_real_rvtools_export_is_still_read_in_full(tmp_path):
    path = real_export("SizingWorkshop-RVTools.xlsx")
    options = SourceOptions("xlsx", sheet_name="vInfo", mapped_columns=("VM", "Memory"))
    assert sniff_source(path, path.name, options).sheet_name == "vInfo"
    with open_source(path, path.name, options) as source:
        rows = list(source.rows)
    assert len(rows) == 805 and all(row.rejection is None for row in rows)
    assert rows[0].row_number == 2 and rows[0].cells["VM"]


@pytest.mark.parametrize(
    ("header", "keys"),
    [
        (["x", "x", "x_2", "x"], ["x", "x_2", "x_2_2", "x_3"]),
        (["a_2", "a", "a"], ["a_2", "a", "a_3"]),
        (
            ["Notes", "", "Notes", " Notes ", "Notes_2"],
            ["Notes", None, "Notes_2", "Notes_3", "Notes_2_2"],
        ),
        (["x"] * 5, ["x", "x_2", "x_3", "x_4", "x_5"]),
    ],
)
def test_repeated_header_names_are_named_as_before(header, keys):
    assert make_header(header, "f.csv").keys == keys


def test_a_header_of_the_widest_size_repeating_one_name_is_named(tmp_path):
    keys = make_header(["x"] * COLUMNS.value, "f.csv").keys
    assert keys[:3] == ["x", "x_2", "x_3"] and keys[-1] == f"x_{COLUMNS.value}"
    assert len(set(keys)) == COLUMNS.value


# --- at import and at run --------------------------------------------------------------------


@pytest.fixture()
def tenant(engine: Engine):
    return make_name_only_tenant(engine, KEY)


@pytest.mark.parametrize("name", ["one-row.xlsx", "dimension.xlsx", "x-20000.csv"])
def test_import_refuses_a_hostile_file_in_one_line_and_keeps_no_copy(
    engine, tenant, tmp_path, name
):
    scope, flow = tenant
    build, _, limit, found = HOSTILE[name]
    path = build(tmp_path / name)
    with pytest.raises(RegistryError) as refused:
        register(engine, scope, flow, path)
    assert str(refused.value) == line(name, found, limit)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM migration.data_imports")).scalar() == 0
    assert not [p for p in (tmp_path / "imports").rglob("*") if p.is_file()]


def test_a_hostile_file_at_run_fails_its_import_alone(engine, tenant, tmp_path):
    scope, flow = tenant
    registered = {}
    for number, name in enumerate(("turns-hostile.xlsx", "good.xlsx")):
        rows = [hostile.text_row(1, ["Name"]), hostile.text_row(2, [f"web-{number}"])]
        registered[name] = register(engine, scope, flow, hostile.workbook(tmp_path / name, rows))
    stored = Path(registered["turns-hostile.xlsx"]["stored_path"])
    hostile.declared_dimension_workbook(stored)  # the stored copy replaced after the checks

    loaded, _, _ = run_stages(engine, KEY)

    results = {result.filename: result for result in loaded}
    assert results["good.xlsx"].status == "loaded" and results["good.xlsx"].loaded_rows == 1
    failed = import_row(engine, registered["turns-hostile.xlsx"]["id"])
    found = "sheet 'Data' declares 16,384 columns"
    assert results["turns-hostile.xlsx"].status == failed.status == "failed"
    assert failed.error == line("turns-hostile.xlsx", found, COLUMNS)
    assert raw_rows(engine, registered["turns-hostile.xlsx"]["id"]) == []
    assert [data["Name"] for _, data in raw_rows(engine, registered["good.xlsx"]["id"])] == [
        "web-1"
    ]
