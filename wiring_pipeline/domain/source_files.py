"""Reading an import file row by row: CSV (any of three delimiters), JSON lines, XLSX.

Each reader yields `SourceRow`s: the cells of a data row by column, or the reason it
cannot be loaded with its raw text; a file that cannot be read at all raises
`UnreadableFileError`. Nothing holds a whole file in memory. Row numbers count the data
rows of a file from 1 (the header is not a row; blank lines are skipped and not counted),
so a CSV cell spanning two lines is still one row.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

#: The longest cell the loader accepts: Excel's own cell limit, so any cell a spreadsheet
#: can hold loads, and a runaway quoted field in a broken CSV is caught as one bad row.
MAX_CELL_CHARS = 32_767
#: A field longer than this cannot be a CSV cell at all: the file is not a CSV.
CSV_PARSER_FIELD_LIMIT = 16 * 1024 * 1024
#: How much of a rejected row's raw text is kept (the source file has the rest).
MAX_REJECTED_TEXT_CHARS = 65_536
CSV_DELIMITERS = (",", ";", "\t")


class UnreadableFileError(Exception):
    """The file as a whole cannot be read; the message says why, naming the file."""


@dataclass(frozen=True)
class SourceRow:
    """One data row: its cells by column, or the reason it cannot be loaded."""

    row_number: int
    cells: dict[str, str] | None
    rejection: str | None = None
    raw_text: str | None = None


def visible_text(raw: str) -> str:
    """Text safe to store: undecodable bytes shown as \\xNN escapes, NUL as \\x00."""
    shown = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return shown.replace("\x00", "\\x00")[:MAX_REJECTED_TEXT_CHARS]


def _cell_problem(header: list[str], values: list[str]) -> str | None:
    """Why a row of text cells cannot be stored, or None when it can.

    The whole row is checked at once first (the common, clean case costs a join and an
    encode); only a row that fails is searched cell by cell for the reason.
    """
    joined = "".join(values)
    if len(joined) <= MAX_CELL_CHARS and "\x00" not in joined and _is_utf8(joined):
        return None
    for column, value in zip(header, values):
        if len(value) > MAX_CELL_CHARS:
            return (
                f"cell {column!r} is {len(value)} characters long, over the "
                f"{MAX_CELL_CHARS}-character limit"
            )
        if "\x00" in value:
            return f"cell {column!r} contains a NUL character"
        if not _is_utf8(value):
            return f"cell {column!r} has bytes that are not UTF-8"
    return None


def _is_utf8(value: str) -> bool:
    """False when decoding left undecodable bytes behind (as lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _checked_header(cells: list[str], filename: str) -> list[str]:
    header = [cell.strip() for cell in cells]
    while header and not header[-1]:
        header.pop()
    if not header:
        raise UnreadableFileError(f"{filename}: no header row")
    for position, name in enumerate(header, start=1):
        if not name:
            raise UnreadableFileError(f"{filename}: header column {position} has no name")
        if "\x00" in name or not _is_utf8(name):
            raise UnreadableFileError(f"{filename}: the header is not UTF-8 text")
    doubled = sorted({name for name in header if header.count(name) > 1})
    if doubled:
        raise UnreadableFileError(f"{filename}: header repeats column(s) {', '.join(doubled)}")
    return header


def _row_from_cells(
    row_number: int, header: list[str], values: list[str], raw_text: str
) -> SourceRow:
    """Check a row of cells against the header; the same rules for every format."""
    while len(values) > len(header) and not values[-1].strip():
        values = values[:-1]
    if len(values) != len(header):
        return _rejected(
            row_number, f"row has {len(values)} fields, the header has {len(header)}", raw_text
        )
    problem = _cell_problem(header, values)
    if problem:
        return _rejected(row_number, problem, raw_text)
    return SourceRow(row_number, dict(zip(header, values)))


def _detect_delimiter(first_line: str) -> str:
    """The candidate that occurs most in the header line; comma when none does."""
    counts = {d: first_line.count(d) for d in CSV_DELIMITERS}
    best = max(CSV_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(path: Path, filename: str) -> Iterator[SourceRow]:
    """UTF-8 CSV with or without BOM; comma, semicolon or tab; quoted multi-line cells.

    Bytes are decoded with `surrogateescape`, so a row with bad bytes is rejected on its
    own instead of stopping the file at the first bad byte.
    """
    with _open(path, filename, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        first_line = f.readline(1 << 16)
        if not first_line.strip():
            raise UnreadableFileError(f"{filename}: the file is empty or has no header row")
        delimiter = _detect_delimiter(first_line)
        f.seek(0)
        reader = csv.reader(f, delimiter=delimiter, strict=False)
        previous_limit = csv.field_size_limit(CSV_PARSER_FIELD_LIMIT)
        try:
            header = _checked_header(_next_csv_row(reader, filename) or [], filename)
            row_number = 0
            while (values := _next_csv_row(reader, filename)) is not None:
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue  # a blank line is not a row
                row_number += 1
                yield _row_from_cells(row_number, header, values, delimiter.join(values))
        finally:
            csv.field_size_limit(previous_limit)


def _open(path: Path, filename: str, **kwargs):
    try:
        return open(path, **kwargs)  # noqa: SIM115
    except FileNotFoundError as error:
        raise UnreadableFileError(f"{filename}: the stored file {path} is missing") from error
    except OSError as error:
        raise UnreadableFileError(f"{filename}: cannot open {path}: {error}") from error


def _next_csv_row(reader, filename: str) -> list[str] | None:
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as error:
        raise UnreadableFileError(
            f"{filename}: not a readable CSV at line {reader.line_num}: {error}"
        ) from error


def read_jsonl(path: Path, filename: str) -> Iterator[SourceRow]:
    """JSON Lines: one object per line; values become cell text (null becomes empty).

    A first line that is not a JSON object means the file is not JSON Lines at all; a
    later bad line is one rejected row.
    """
    with _open(path, filename, mode="rb") as handle:
        row_number = 0
        for line in handle:
            if not line.strip():
                continue
            row_number += 1
            raw_text = line.decode("utf-8", "surrogateescape").rstrip("\r\n")
            try:
                value = json.loads(raw_text)
            except ValueError as error:
                if row_number == 1:
                    raise UnreadableFileError(
                        f"{filename}: not a JSON Lines file: line 1 is not JSON ({error})"
                    ) from error
                yield _rejected(row_number, f"is not valid JSON: {error}", raw_text)
                continue
            if not isinstance(value, dict):
                reason = f"is a JSON {type(value).__name__}, not an object"
                if row_number == 1:
                    raise UnreadableFileError(f"{filename}: not a JSON Lines file: line 1 {reason}")
                yield _rejected(row_number, reason, raw_text)
                continue
            header = [str(key) for key in value]
            cells = [_cell_text(cell) for cell in value.values()]
            if not all(map(_is_utf8, header)):
                yield _rejected(row_number, "a key has bytes that are not UTF-8", raw_text)
                continue
            yield _row_from_cells(row_number, header, cells, raw_text)
        if row_number == 0:
            raise UnreadableFileError(f"{filename}: the file is empty")


def _rejected(row_number: int, reason: str, raw_text: str) -> SourceRow:
    return SourceRow(row_number, None, reason, visible_text(raw_text))


def _cell_text(value: object) -> str:
    """A cell as text, whatever type the source gave it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def read_xlsx(path: Path, filename: str, sheet_name: str | None) -> Iterator[SourceRow]:
    """The named worksheet, or the first one; read-only mode streams the rows."""
    from openpyxl import load_workbook

    if not path.is_file():
        raise UnreadableFileError(f"{filename}: the stored file {path} is missing")
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zip, XML and key errors alike
        raise UnreadableFileError(
            f"{filename}: not a readable .xlsx workbook: {type(error).__name__}: {error}"
        ) from error
    try:
        if sheet_name is None:
            sheet = workbook.worksheets[0]
        elif sheet_name in workbook.sheetnames:
            sheet = workbook[sheet_name]
        else:
            raise UnreadableFileError(
                f"{filename}: no worksheet {sheet_name!r} "
                f"(the workbook has: {', '.join(workbook.sheetnames)})"
            )
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        header = _checked_header([_cell_text(v) for v in first or ()], filename)
        row_number = 0
        for values in rows:
            cells = [_cell_text(v) for v in values]
            if not any(cell.strip() for cell in cells):
                continue
            row_number += 1
            yield _row_from_cells(row_number, header, cells, "\t".join(cells))
    finally:
        workbook.close()


def read_source(path: Path, file_format: str | None, filename: str, sheet_name: str | None):
    if file_format == "csv":
        return read_csv(path, filename)
    if file_format == "jsonl":
        return read_jsonl(path, filename)
    if file_format == "xlsx":
        return read_xlsx(path, filename, sheet_name)
    raise UnreadableFileError(f"{filename}: unknown file format {file_format!r}")
