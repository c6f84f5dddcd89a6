"""Excel workbooks (.xlsx), as people lay them out rather than as a table would be.

- Only visible worksheets are candidates by default (a hidden first sheet is usually a
  lookup list): the first visible sheet whose header holds the mapped columns, else the
  first visible sheet; `--sheet` names any sheet.
- The header is the first row holding every mapped column, else the first mostly
  non-empty row, so a title row above the table is skipped.
- A merged range carries its top-left value into every cell it covers. Read-only mode
  (which streams the rows) does not report merged ranges, so they are read from the
  sheet's XML with a streaming scan.
- Cached formula results and dates are read as values; Excel error values (`#N/A`) are
  kept as text here and become NULL, with a note, in the cleansing.
- A row is numbered as Excel numbers it (the header on row 1 puts the first data row on
  row 2), title rows, empty rows and merged rows included.
"""

from __future__ import annotations

import itertools
import re
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from wiring_pipeline.domain.ingest.sources.rows import (
    Header,
    SourceRow,
    UnreadableFileError,
    cell_text,
    make_header,
    match_mapped_columns,
    row_from_cells,
    with_mapped_keys,
)

#: Rows searched for the header.
HEADER_SCAN_ROWS = 30
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+[0-9]+):([A-Z]+[0-9]+)"')


def open_workbook(
    path: Path,
    filename: str,
    sheet_name: str | None,
    mapped: tuple[str, ...],
    strict: bool,
    stack: ExitStack,
) -> tuple[str, Header, Iterator[SourceRow]]:
    """The sheet used, its header and its data rows."""
    from openpyxl import load_workbook

    if not path.is_file():
        raise UnreadableFileError(f"{filename}: the stored file {path} is missing")
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zip, XML and key errors alike
        raise UnreadableFileError(
            f"{filename}: not a readable .xlsx workbook: {type(error).__name__}: {error}"
        ) from error
    stack.callback(workbook.close)
    chosen = fallback = None
    for sheet in _candidates(workbook, sheet_name, filename):
        rows = _filled_rows(sheet, _merged_ranges(path, sheet))
        head = [row for row in (next(rows, None) for _ in range(HEADER_SCAN_ROWS)) if row]
        at = _header_position([values for _, values in head], mapped)
        if at is None:
            continue
        if not _problems(head[at][1], mapped):
            chosen = (sheet, rows, head, at)
            break
        fallback = fallback or (sheet, rows, head, at)
    chosen = chosen or fallback
    if chosen is None:
        raise UnreadableFileError(
            f"{filename}: no worksheet has a header row ({_listing(workbook)})"
        )
    sheet, rows, head, at = chosen
    try:
        header = with_mapped_keys(make_header(head[at][1], filename), mapped, filename, strict)
    except UnreadableFileError as error:
        raise type(error)(f"{error} of worksheet {sheet.title!r} ({_listing(workbook)})") from error
    return sheet.title, header, _rows(header, head[at + 1 :], rows)


def _candidates(workbook, sheet_name: str | None, filename: str) -> list:
    if sheet_name is not None:
        if sheet_name not in workbook.sheetnames:
            raise UnreadableFileError(
                f"{filename}: no worksheet {sheet_name!r} ({_listing(workbook)})"
            )
        return [workbook[sheet_name]]
    return [sheet for sheet in workbook.worksheets if sheet.sheet_state == "visible"]


def _listing(workbook) -> str:
    shown = [
        sheet.title if sheet.sheet_state == "visible" else f"{sheet.title} ({sheet.sheet_state})"
        for sheet in workbook.worksheets
    ]
    return "the workbook has: " + ", ".join(shown)


def _header_position(head: list[list[str]], mapped: tuple[str, ...]) -> int | None:
    """The first row holding every mapped column, else the first mostly non-empty row."""
    filled = [sum(1 for cell in row if cell.strip()) for row in head]
    if not any(filled):
        return None
    if mapped:
        for position, row in enumerate(head):
            if filled[position] and not _problems(row, mapped):
                return position
    widest = max(filled)
    return next(i for i, count in enumerate(filled) if count * 2 >= widest)


def _problems(row: list[str], mapped: tuple[str, ...]) -> list[str]:
    return match_mapped_columns([cell.strip() for cell in row], mapped)[1]


def _merged_ranges(path: Path, sheet) -> list[tuple[int, int, int, int]]:
    """(min_col, min_row, max_col, max_row) of every merged range of the sheet."""
    from openpyxl.utils.cell import range_boundaries

    found: set[tuple[int, int, int, int]] = set()
    tail = b""  # a tag cut by a block boundary is found whole in the next block
    with zipfile.ZipFile(path) as archive, archive.open(sheet._worksheet_path) as xml:
        for block in iter(lambda: xml.read(1 << 20), b""):
            text = tail + block
            found.update(
                range_boundaries(f"{a.decode()}:{b.decode()}") for a, b in _MERGE.findall(text)
            )
            tail = text[-256:]
    return sorted(found, key=lambda r: r[1])


def _filled_rows(sheet, merged: list[tuple[int, int, int, int]]) -> Iterator[tuple[int, list[str]]]:
    """Each row's number, as Excel shows it, and its cells as text, merged ranges filled with
    their top-left value. Read-only mode yields the rows the sheet's XML leaves out as empty
    rows, so counting the rows gives Excel's numbers."""
    top_left: dict[tuple[int, int], str] = {}
    for row_index, cells in enumerate(_sheet_rows(sheet), start=1):
        values = [cell_text(cell.value) for cell in cells]
        for min_col, min_row, max_col, max_row in merged:
            if min_row > row_index:
                break
            if row_index > max_row:
                continue
            if row_index == min_row:
                top_left[(min_col, min_row)] = values[min_col - 1] if min_col <= len(values) else ""
            value = top_left.get((min_col, min_row), "")
            if len(values) < max_col:
                values += [""] * (max_col - len(values))
            for column in range(min_col, max_col + 1):
                values[column - 1] = value
        yield row_index, values


def _sheet_rows(sheet):
    """The sheet's rows of cells; a broken sheet XML is an unreadable file, not a crash."""
    try:
        yield from sheet.iter_rows(min_row=1)
    except Exception as error:  # openpyxl raises XML, zip and value errors alike
        raise UnreadableFileError(
            f"worksheet {sheet.title!r} is not readable: {type(error).__name__}: {error}"
        ) from error


def _rows(header: Header, buffered: list, rest: Iterator[tuple[int, list[str]]]):
    """The data rows, each numbered by its spreadsheet row (an empty row is none, but keeps
    its number, as in Excel)."""
    for row_number, values in itertools.chain(buffered, rest):
        if not any(cell.strip() for cell in values):
            continue  # an empty row is not a row
        yield row_from_cells(row_number, header, values, "\t".join(values), "UTF-8")
