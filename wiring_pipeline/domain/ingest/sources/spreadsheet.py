"""Excel workbooks (.xlsx), as people lay them out rather than as a table would be.

- Only visible worksheets are candidates by default (a hidden first sheet is usually a
  lookup list): the first visible sheet whose header holds the mapped columns, else the
  first visible sheet; `--sheet` names any sheet.
- The header is the first row holding every mapped column, else the first mostly
  non-empty row, so a title row above the table is skipped.
- A merged range carries its top-left value into every cell it covers. Read-only mode
  (which streams the rows) does not report merged ranges, so they come from the scan that
  measures the workbook before openpyxl opens it (`workbook_scan`, DESIGN 3f).
- The dimension a sheet declares is checked against the limits, then set aside: a row is
  as wide as its cells, and a cell the sheet leaves out is empty, as Excel shows it.
- Cached formula results and dates are read as values; Excel error values (`#N/A`) are
  kept as text here and become NULL, with a note, in the cleansing.
- A row is numbered as Excel numbers it (the header on row 1 puts the first data row on
  row 2), title rows, empty rows and merged rows included.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from wiring_pipeline.domain.ingest.sources.rows import (
    FileLimitError,
    Header,
    SourceRow,
    UnreadableFileError,
    cell_text,
    make_header,
    match_mapped_columns,
    row_from_cells,
    with_mapped_keys,
)
from wiring_pipeline.domain.ingest.sources.workbook_scan import Range, scan_workbook

#: Rows searched for the header.
HEADER_SCAN_ROWS = 30


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
        scan = scan_workbook(path, filename)
        workbook = load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except UnreadableFileError:
        raise
    except Exception as error:  # openpyxl raises zip, XML and key errors alike
        raise UnreadableFileError(
            f"{filename}: not a readable .xlsx workbook: {type(error).__name__}: {error}"
        ) from error
    stack.callback(workbook.close)
    chosen = fallback = None
    for sheet in _candidates(workbook, sheet_name, filename):
        sheet.reset_dimensions()
        rows = _filled_rows(sheet, scan.merged(sheet._worksheet_path))
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
    except FileLimitError:
        raise  # its line ends with the limit
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


def _filled_rows(sheet, merged: list[Range]) -> Iterator[tuple[int, list[str]]]:
    """Each row's number, as Excel shows it, and its cells as text, merged ranges filled with
    their top-left value. Read-only mode yields the rows the sheet's XML leaves out as empty
    rows, so counting the rows gives Excel's numbers.

    The ranges (sorted by first row) are swept: a range joins when the rows reach it and
    leaves after its last row, so each row costs the ranges covering it, not all of them.
    """
    pending = iter(merged)
    upcoming = next(pending, None)
    covering: list[tuple[Range, str]] = []  # with the top-left value
    for row_index, cells in enumerate(_sheet_rows(sheet), start=1):
        values = [cell_text(cell.value) for cell in cells]
        covering = [(bounds, value) for bounds, value in covering if bounds[3] >= row_index]
        while upcoming is not None and upcoming[1] <= row_index:
            if upcoming[1] == row_index:  # (a range above row 1 covers nothing)
                column = upcoming[0]
                covering.append((upcoming, values[column - 1] if column <= len(values) else ""))
            upcoming = next(pending, None)
        for (min_col, _, max_col, _), value in covering:
            if len(values) < max_col:
                values += [""] * (max_col - len(values))
            values[min_col - 1 : max_col] = [value] * (max_col - min_col + 1)
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
    its number, as in Excel). A row is as wide as the header: a cell the sheet leaves out is
    empty, and one right of the header's last column is under no header, so ignored."""
    width = len(header.keys)
    for row_number, values in itertools.chain(buffered, rest):
        if not any(cell.strip() for cell in values):
            continue  # an empty row is not a row
        values = values[:width] + [""] * (width - len(values))
        yield row_from_cells(row_number, header, values, "\t".join(values), "UTF-8")
