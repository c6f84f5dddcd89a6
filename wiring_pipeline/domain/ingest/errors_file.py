"""The errors file of `import --check --errors-file OUT` (DESIGN 3f): the file's rows again,
in the file's own format, each with the check's messages in an added error column.

A person fixes the rows in it and imports it again, so it keeps what the file had: every
row on its own row number (the header, a `sep=` line, blank and title rows included, so the
check's row numbers point into the errors file too), the delimiter, encoding and line
endings of a CSV, the values of the checked worksheet (an XLSX errors file is that sheet
alone, formulas as their cached results). The error column comes after the
widest row, so it is one column on every row, and the loader ignores it when the file is
imported again (no flow maps it; its header is `error`, or `error_2`… when the file has an
`error` column already).

Each writer streams: the file is read row by row (twice for CSV and XLSX, to find the
widest row first) and the messages arrive in row order, so memory holds a row, never the
file. The output is written beside OUT and moved into place whole, so a failed or
interrupted check leaves no half-written file.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.ingest.registry import detect_format, readable_name
from wiring_pipeline.domain.ingest.sources import SourceOptions, open_source
from wiring_pipeline.domain.ingest.sources.delimited import CSV_DELIMITERS
from wiring_pipeline.domain.ingest.sources.text import open_text

#: The error column's header, unless the file has it already.
ERROR_COLUMN = "error"
#: The longest text an XLSX cell holds.
XLSX_CELL_CHARS = 32_767
#: The csv parser's field bound for the stored copy, which the check has read to its end
#: within the readers' limits already: no field of it is longer than those allow.
CSV_FIELD_CHARS = 2**31 - 1
#: Which output formats each input format writes: JSON and JSON Lines both give JSON Lines.
OUTPUT_FORMATS = {"csv": "csv", "xlsx": "xlsx", "json": "jsonl", "jsonl": "jsonl"}
_SEP_LINE = re.compile(r"^\ufeff?sep=(.)\s*$", re.IGNORECASE)


class ErrorsFileError(UserInputError):
    """An errors file that cannot be written where it was asked for."""


def check_errors_path(source: Path, out: Path) -> None:
    """Refuse, before any work (and before a problem is printed), an OUT that would not hold
    the source's format, would overwrite the source itself, or has no directory to go in."""
    wanted = OUTPUT_FORMATS[detect_format(source)]
    try:
        given = detect_format(out)
    except UserInputError as error:
        raise ErrorsFileError(f"--errors-file: {error}") from error
    if given != wanted:
        endings = {".csv", ".tsv", ".txt"} if wanted == "csv" else {f".{wanted}"}
        if wanted == "jsonl":
            endings.add(".ndjson")
        raise ErrorsFileError(
            f"--errors-file {readable_name(out.name)}: the errors file of a {detect_format(source)}"
            f" file is {wanted}; give a name ending in {' or '.join(sorted(endings))}"
        )
    if out.exists() and source.exists() and out.resolve() == source.resolve():
        raise ErrorsFileError("--errors-file names the checked file itself")
    if not out.parent.is_dir():
        raise ErrorsFileError(f"--errors-file {readable_name(out)}: no such directory")


def write_errors_file(
    stored: Path,
    out: Path,
    options: SourceOptions,
    errors: Iterable[tuple[int, str]],
    *,
    filename: str,
    first_row: int | None,
) -> None:
    """Write the rows of `stored` (read as the check read them) with `errors` — (row, message)
    pairs in row order — to `out`. `first_row` is the first data row: a worksheet's header
    is the filled row above it."""
    messages = _RowMessages(errors)
    partial = out.with_name(f".{out.name}.partial")
    try:
        if options.file_format == "csv":
            _write_csv(stored, partial, filename, options.encoding or "utf-8", messages)
        elif options.file_format == "xlsx":
            _write_xlsx(stored, partial, options.sheet_name, first_row, messages)
        else:
            _write_json_lines(stored, partial, filename, options, messages)
        os.replace(partial, out)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ErrorsFileError(
            f"--errors-file {readable_name(out)}: cannot write: {error}"
        ) from error
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


class _RowMessages:
    """The messages of each row, taken from a stream in row order as the writer reaches it."""

    def __init__(self, errors: Iterable[tuple[int, str]]) -> None:
        self._errors = iter(errors)
        self._next = next(self._errors, None)

    def of(self, row_number: int) -> str:
        """The row's messages, one per problem, `; ` between them ('' for a clean row)."""
        found = []
        while self._next is not None and self._next[0] <= row_number:
            if self._next[0] == row_number:
                found.append(self._next[1])
            self._next = next(self._errors, None)
        return "; ".join(found)


def error_column(names: Iterable[object]) -> str:
    """`error`, or the first of `error_2`, `error_3`… the names do not have (any case)."""
    taken = {str(name).strip().casefold() for name in names if name is not None}
    name, suffix = ERROR_COLUMN, 1
    while name.casefold() in taken:
        suffix += 1
        name = f"{ERROR_COLUMN}_{suffix}"
    return name


# --- CSV ------------------------------------------------------------------------------------


def _write_csv(path: Path, out: Path, filename: str, encoding: str, messages: _RowMessages) -> None:
    with open_text(path, filename, encoding) as handle:
        first_line = handle.readline(1 << 16)
    sep_line = _SEP_LINE.match(first_line)
    delimiter = sep_line.group(1) if sep_line else _delimiter(first_line)
    records = (path, filename, encoding, delimiter, bool(sep_line))
    width = max((len(values) for _, values in _csv_records(*records)), default=0)
    ending = "\n" if first_line.endswith("\n") and not first_line.endswith("\r\n") else "\r\n"
    with out.open("w", encoding=encoding, errors="surrogateescape", newline="") as target:
        if sep_line:
            target.write(first_line)
        writer = csv.writer(target, delimiter=delimiter, lineterminator=ending)
        header_seen = False
        for row_number, values in _csv_records(*records):
            if not values or (len(values) == 1 and not values[0].strip()):
                writer.writerow(values)  # a blank line is no row, but keeps its line
                continue
            padded = values + [""] * (width - len(values))
            if header_seen:
                writer.writerow([*padded, _encodable(messages.of(row_number), encoding)])
            else:
                header_seen = True
                writer.writerow([*padded, error_column(v.lstrip("\ufeff") for v in values)])


def _csv_records(
    path: Path, filename: str, encoding: str, delimiter: str, sep_line: bool
) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, its cells) of every record after a `sep=` line, the
    header and blank lines included, numbered as the delimited reader numbers them."""
    lines_before = 1 if sep_line else 0
    with open_text(path, filename, encoding) as handle:
        if sep_line:
            handle.readline(1 << 16)
        reader = csv.reader(handle, delimiter=delimiter, strict=False)
        previous_limit = csv.field_size_limit(CSV_FIELD_CHARS)
        try:
            read = lines_before
            for values in reader:
                starts, read = read + 1, lines_before + reader.line_num
                yield starts, values
        finally:
            csv.field_size_limit(previous_limit)


def _delimiter(header_line: str) -> str:
    """The delimited reader's rule: the commonest candidate of the header line, else a comma."""
    counts = {d: header_line.count(d) for d in CSV_DELIMITERS}
    best = max(CSV_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _encodable(message: str, encoding: str) -> str:
    """A message in the file's encoding, a character it lacks shown as `?`."""
    return message.encode(encoding, "replace").decode(encoding)


# --- XLSX -----------------------------------------------------------------------------------


def _write_xlsx(
    path: Path, out: Path, sheet_name: str | None, first_row: int | None, messages: _RowMessages
) -> None:
    """The checked worksheet alone, its values as the check read them (a formula as its
    cached result), in a workbook of its own."""
    from openpyxl import Workbook

    width, header_row = 0, None
    with _worksheet(path, sheet_name) as (title, rows):
        for row_number, values in rows:
            filled = _filled_width(values)
            width = max(width, filled)
            if not filled:
                continue
            if first_row is None:  # no data rows: the header is the first filled row
                header_row = header_row or row_number
            elif row_number < first_row:
                header_row = row_number
    target = Workbook(write_only=True)
    written = target.create_sheet(title)
    with _worksheet(path, title) as (_, rows):
        for row_number, values in rows:
            values = values[: _filled_width(values)]
            if row_number == header_row:
                values = values + [None] * (width - len(values)) + [error_column(values)]
            elif values and (message := messages.of(row_number)):
                values = values + [None] * (width - len(values)) + [message]
            written.append([_xlsx_cell(written, value) for value in values])
    target.save(out)


@contextmanager
def _worksheet(path: Path, sheet_name: str | None):
    """(title, rows) of a worksheet read as the spreadsheet reader reads it: streamed, cached
    formula results as values, each row numbered as Excel shows it."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook[sheet_name] if sheet_name else workbook.worksheets[0]
        rows = (
            (row_number, [cell.value for cell in cells])
            for row_number, cells in enumerate(sheet.iter_rows(min_row=1), start=1)
        )
        yield sheet.title, rows
    finally:
        workbook.close()


def _xlsx_cell(sheet, value):
    """A value as an XLSX cell holds it: no control characters, at most a cell's length, and
    text that starts like a formula kept as text."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)[:XLSX_CELL_CHARS]
    if not value.startswith("="):
        return value
    cell = WriteOnlyCell(sheet, value)
    cell.data_type = "s"
    return cell


def _filled_width(values: list) -> int:
    """How many cells up to the last one holding something."""
    for position in range(len(values), 0, -1):
        value = values[position - 1]
        if value is not None and (not isinstance(value, str) or value.strip()):
            return position
    return 0


# --- JSON -----------------------------------------------------------------------------------


def _write_json_lines(
    path: Path, out: Path, filename: str, options: SourceOptions, messages: _RowMessages
) -> None:
    """One JSON object per line, on the line of its row number (blank lines between), with
    the record's columns as the check read them (nested objects flattened as a flow maps
    them: `Tags.Name`); a row that could not be read is its raw text."""
    with open_source(path, filename, options) as source, out.open("w", encoding="utf-8") as target:
        line = 0
        for row in source.rows:
            target.write("\n" * (row.row_number - line - 1))
            line = row.row_number
            record = dict(row.cells) if row.cells is not None else {"raw_text": row.raw_text}
            record[error_column(record)] = messages.of(row.row_number) or None
            target.write(json.dumps(record, ensure_ascii=False) + "\n")
