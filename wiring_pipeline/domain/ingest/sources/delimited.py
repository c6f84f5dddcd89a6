"""Delimited text (CSV, TSV, Excel's "Unicode Text"): comma, semicolon or tab, quoted
multi-line cells, and Excel's `sep=X` first line, which names the delimiter. A row is
numbered by the physical line its record starts on.

The csv module holds a record whole, however many lines its quoted cells span, and Python
reads a line whole, however long: so lines reach the parser through `_RecordLines`, which
reads them with a bound and refuses the file once one record passes
`limits.CSV_RECORD_CHARS`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from wiring_pipeline.domain.ingest.sources.limits import CSV_RECORD_CHARS
from wiring_pipeline.domain.ingest.sources.rows import (
    FileLimitError,
    Header,
    SourceRow,
    UnreadableFileError,
    make_header,
    row_from_cells,
    with_mapped_keys,
)
from wiring_pipeline.domain.ingest.sources.text import display_name, open_text

CSV_DELIMITERS = (",", ";", "\t")
_SEP_LINE = re.compile(r"^\ufeff?sep=(.)\s*$", re.IGNORECASE)


def _detect_delimiter(first_line: str) -> str:
    """The candidate that occurs most in the header line; comma when none does."""
    counts = {d: first_line.count(d) for d in CSV_DELIMITERS}
    best = max(CSV_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def open_delimited(
    path: Path,
    filename: str,
    encoding: str,
    mapped: tuple[str, ...],
    strict: bool,
    stack: ExitStack,
) -> tuple[Header, Iterator[SourceRow]]:
    """The header (mapped columns keyed by the mapping) and an iterator of the data rows."""
    handle = stack.enter_context(open_text(path, filename, encoding))
    first_line = handle.readline(1 << 16)
    sep_line = _SEP_LINE.match(first_line)
    # A `sep=` line was read before the csv reader starts.
    lines_before = 1 if sep_line else 0
    if sep_line:
        delimiter = sep_line.group(1)
    else:
        if not first_line.strip():
            raise UnreadableFileError(f"{filename}: the file is empty or has no header row")
        delimiter = _detect_delimiter(first_line)
        handle.seek(0)
    lines = _RecordLines(handle, filename, lines_before)
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    # No field is longer than its record; the parser's own default (128 KiB) is not ours.
    previous_limit = csv.field_size_limit(CSV_RECORD_CHARS.value)
    stack.callback(csv.field_size_limit, previous_limit)
    first = _next_csv_row(reader, lines, filename)
    if not first or not any(cell.strip() for cell in first):
        raise UnreadableFileError(f"{filename}: the file is empty or has no header row")
    if first[0].startswith("\ufeff"):
        first[0] = first[0][1:]
    header = with_mapped_keys(make_header(first, filename), mapped, filename, strict)
    rows = _rows(reader, lines, header, filename, delimiter, display_name(encoding))
    return header, rows


class _RecordLines:
    """The text's lines for the csv reader, each read with a bound: the lines of one record
    hold at most CSV_RECORD_CHARS characters together, else the file is refused. It counts
    the lines too, so a record is numbered by the line it starts on."""

    def __init__(self, handle, filename: str, lines_before: int) -> None:
        self._handle = handle
        self._filename = filename
        self._room = CSV_RECORD_CHARS.value
        self._read = lines_before
        #: The line the record being read starts on.
        self.start = lines_before + 1

    def next_record(self) -> None:
        self._room = CSV_RECORD_CHARS.value
        self.start = self._read + 1

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        line = self._handle.readline(self._room + 1)
        if not line:
            raise StopIteration
        self._read += 1
        self._room -= len(line)
        if self._room < 0:
            raise FileLimitError(
                CSV_RECORD_CHARS.refusal(
                    self._filename,
                    f"the record starting at line {self.start:,} runs past"
                    f" {CSV_RECORD_CHARS.value:,} characters",
                )
            )
        return line


def _rows(reader, lines: _RecordLines, header: Header, filename: str, delimiter: str, encoding):
    """Each record numbered by the line it starts on, as an editor or Excel shows it: the
    header and a `sep=` line are lines, and a quoted cell spanning lines takes them all."""
    while (values := _next_csv_row(reader, lines, filename)) is not None:
        if not values or (len(values) == 1 and not values[0].strip()):
            continue  # a blank line is not a row
        yield row_from_cells(lines.start, header, values, delimiter.join(values), encoding)


def _next_csv_row(reader, lines: _RecordLines, filename: str) -> list[str] | None:
    lines.next_record()
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as error:
        raise UnreadableFileError(
            f"{filename}: not a readable CSV at line {reader.line_num}: {error}"
        ) from error
