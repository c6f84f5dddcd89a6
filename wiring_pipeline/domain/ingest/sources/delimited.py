"""Delimited text (CSV, TSV, Excel's "Unicode Text"): comma, semicolon or tab, quoted
multi-line cells, and Excel's `sep=X` first line, which names the delimiter. A row is
numbered by the physical line its record starts on."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from wiring_pipeline.domain.ingest.sources.rows import (
    Header,
    SourceRow,
    UnreadableFileError,
    make_header,
    row_from_cells,
    with_mapped_keys,
)
from wiring_pipeline.domain.ingest.sources.text import display_name, open_text

#: A field longer than this cannot be a CSV cell at all: the file is not a CSV.
CSV_PARSER_FIELD_LIMIT = 16 * 1024 * 1024
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
    # The reader counts the lines it reads; a `sep=` line was read before it.
    lines_before = 1 if sep_line else 0
    if sep_line:
        delimiter = sep_line.group(1)
    else:
        if not first_line.strip():
            raise UnreadableFileError(f"{filename}: the file is empty or has no header row")
        delimiter = _detect_delimiter(first_line)
        handle.seek(0)
    reader = csv.reader(handle, delimiter=delimiter, strict=False)
    previous_limit = csv.field_size_limit(CSV_PARSER_FIELD_LIMIT)
    stack.callback(csv.field_size_limit, previous_limit)
    first = _next_csv_row(reader, filename)
    if not first or not any(cell.strip() for cell in first):
        raise UnreadableFileError(f"{filename}: the file is empty or has no header row")
    if first[0].startswith("\ufeff"):
        first[0] = first[0][1:]
    header = with_mapped_keys(make_header(first, filename), mapped, filename, strict)
    rows = _rows(reader, lines_before, header, filename, delimiter, display_name(encoding))
    return header, rows


def _rows(reader, lines_before: int, header: Header, filename: str, delimiter: str, encoding):
    """Each record numbered by the line it starts on, as an editor or Excel shows it: the
    header and a `sep=` line are lines, and a quoted cell spanning lines takes them all."""
    read = lines_before + reader.line_num
    while (values := _next_csv_row(reader, filename)) is not None:
        starts, read = read + 1, lines_before + reader.line_num
        if not values or (len(values) == 1 and not values[0].strip()):
            continue  # a blank line is not a row
        yield row_from_cells(starts, header, values, delimiter.join(values), encoding)


def _next_csv_row(reader, filename: str) -> list[str] | None:
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as error:
        raise UnreadableFileError(
            f"{filename}: not a readable CSV at line {reader.line_num}: {error}"
        ) from error
