"""Writing the export's rows as they come: CSV through a text stream, XLSX through
openpyxl's write-only workbook.

Neither writer holds more than a row: the CSV writer encodes each row into the output's
buffer, the write-only workbook streams each row's XML to a temporary file per sheet that
it zips into the output at the end, so its sheets are filled one after the other, each from
its own stream of rows. The output is any binary stream (a file, stdout, the API's
spool), so the command line and the API share every byte of it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from wiring_pipeline.domain.core.errors import UserInputError

#: Data rows one sheet holds: Excel's 1 048 576 rows, less the header.
XLSX_MAX_ROWS = 1_048_575

#: A cell a spreadsheet would run as a formula (OWASP "CSV injection"): `=`, `@`, and
#: `+`/`-` unless the text is a plain number.
_FORMULA = re.compile(r"^(?:[=@\t\r]|[+-](?![\d.]+$))")
#: The first characters `_FORMULA` can match: most cells are ruled out on one lookup.
_RISKY_START = frozenset("=@\t\r+-")
#: What takes the place of a control character, which an XLSX file cannot hold at all: a
#: visible mark that something was there (the CSV export keeps the character).
_REPLACEMENT = "\ufffd"


class ExportError(UserInputError):
    """An export that cannot be written (unknown format, too many rows for a sheet)."""


@dataclass(frozen=True)
class Sheet:
    """One sheet of a workbook: its name, header and rows, and what a row is (`assets`), so
    that a refusal says what did not fit."""

    name: str
    header: Sequence[str]
    rows: Iterable[Sequence]
    rows_are: str


def too_many_for_a_sheet(total: int, *, what: str, at_least: bool = False) -> ExportError:
    count = f"more than {XLSX_MAX_ROWS:,}" if at_least else f"{total:,}"
    return ExportError(
        f"{count} {what} do not fit one spreadsheet sheet ({XLSX_MAX_ROWS:,} rows): export as csv"
    )


def neutralise_formulas(row: Iterable) -> list:
    """The row's cells, each text that starts like a formula led by an apostrophe, as
    spreadsheets show typed text; other cells as they are."""
    return [
        "'" + value
        if type(value) is str and value[:1] in _RISKY_START and _FORMULA.match(value)
        else value
        for value in row
    ]


def write_csv(header: Sequence[str], rows: Iterable[Sequence], out: BinaryIO) -> int:
    """`rows` as UTF-8 CSV with a BOM (so spreadsheets read it as UTF-8), one line per
    row as it comes; the number of rows. `out` stays open."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    try:
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        count = 0
        for row in rows:
            writer.writerow(row)
            count += 1
        text.flush()
        return count
    finally:
        text.detach()  # leave `out` to its owner


def write_xlsx(
    sheets: Sequence[Sheet],
    out: BinaryIO,
    *,
    max_rows: int = XLSX_MAX_ROWS,
) -> list[int]:
    """A workbook of `sheets`, in order, each sheet's rows appended as they come; the number
    of rows of each. More than `max_rows` in a sheet stops the export (ExportError): a sheet
    holds no more."""
    workbook = Workbook(write_only=True)
    try:
        counts = [_fill(workbook.create_sheet(sheet.name), sheet, max_rows) for sheet in sheets]
        workbook.save(out)
        return counts
    except BaseException:
        for written in workbook.worksheets:
            _discard(written)
        raise


def _fill(sheet: WriteOnlyWorksheet, spec: Sheet, max_rows: int) -> int:
    sheet.append(list(spec.header))
    count = 0
    for row in spec.rows:
        count += 1
        if count > max_rows:
            raise too_many_for_a_sheet(count, at_least=True, what=spec.rows_are)
        sheet.append([_xlsx_cell(value) for value in row])
    return count


def _xlsx_cell(value):
    if type(value) is str and ILLEGAL_CHARACTERS_RE.search(value):
        return ILLEGAL_CHARACTERS_RE.sub(_REPLACEMENT, value)
    return value


def _discard(sheet: WriteOnlyWorksheet) -> None:
    """Remove the sheet's temporary file now: openpyxl removes it when the workbook is
    saved, else only when the process exits, and a server that abandons exports (a client
    gone, a database error) would fill its disk with them."""
    writer = sheet._writer
    if writer is None:
        return
    with contextlib.suppress(Exception):  # closes the file's handle; saved already: closed
        sheet.close()
    with contextlib.suppress(OSError, ValueError):  # removed already by a failed save
        writer.cleanup()
