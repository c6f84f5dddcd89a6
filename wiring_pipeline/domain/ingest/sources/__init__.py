"""Reading the files consultants bring: CSV and other delimited text, JSON, Excel.

`open_source` is the one entry: it decides how to read a file (encoding, sheet, header)
and yields its rows, one `SourceRow` each, streaming. `sniff_source` is what `import` runs
before registering a file: the same reading, on the header and the first rows, with the
mapped columns required, so a file the loader could not use is refused at once.

A row's `row_number` is where a person finds it in the file (DESIGN 3d): the spreadsheet
row, the CSV line the record starts on, the line of JSON Lines, the element's place in a
JSON array or among a document's records. It increases through a file, so ordering by it
keeps the file's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path

from wiring_pipeline.domain.ingest.sources.delimited import open_delimited
from wiring_pipeline.domain.ingest.sources.json_documents import WrappedRecordsError
from wiring_pipeline.domain.ingest.sources.json_records import open_json
from wiring_pipeline.domain.ingest.sources.rows import (
    MAX_CELL_CHARS,
    MappedColumnError,
    SourceRow,
    UnreadableFileError,
    match_mapped_columns,
    unreadable_reason,
    visible,
)
from wiring_pipeline.domain.ingest.sources.spreadsheet import open_workbook
from wiring_pipeline.domain.ingest.sources.text import check_encoding_name, detect_encoding

__all__ = [
    "MAX_CELL_CHARS",
    "MappedColumnError",
    "Source",
    "SourceOptions",
    "SourceRow",
    "UnreadableFileError",
    "WrappedRecordsError",
    "open_source",
    "sniff_source",
    "visible",
]

#: Rows `import` reads to check a file (JSON keys are collected from these).
SNIFF_ROWS = 1_000


@dataclass(frozen=True)
class SourceOptions:
    file_format: str
    #: None: detected from the bytes (text formats only).
    encoding: str | None = None
    #: None: chosen among the visible sheets (.xlsx only).
    sheet_name: str | None = None
    #: The source columns the flow maps.
    mapped_columns: tuple[str, ...] = ()
    #: Whether a missing or ambiguous mapped column stops the reading (`import` does).
    strict: bool = False
    #: Where a JSON document keeps its records (`Reservations[].Instances[]`), from the
    #: flow's spec; None: the file is an array of records or JSON Lines.
    records_path: str | None = None


@dataclass(frozen=True)
class Source:
    encoding: str | None
    sheet_name: str | None
    #: The header's keys (for JSON: None, each row has its own).
    columns: list[str] | None
    rows: Iterator[SourceRow]


@contextmanager
def open_source(path: Path, filename: str, options: SourceOptions) -> Iterator[Source]:
    """The file's rows and how they were read; the file is closed when the block ends.

    Whatever a reader meets that it did not expect, opening the file or anywhere in its rows
    (a RecursionError deep in a JSON line, a broken zip member), is an UnreadableFileError
    naming the file (DESIGN 3f), so `import`, `flow suggest` and the loader each say it in
    one line and the loader fails that import alone. What the caller's block raises is the
    caller's and passes through untouched.
    """
    with ExitStack() as stack:
        try:
            source = _opened(path, filename, options, stack)
        except UnreadableFileError:
            raise
        except Exception as failure:
            raise UnreadableFileError(unreadable_reason(filename, failure)) from failure
        yield replace(source, rows=_guarded(source.rows, filename))


def _opened(path: Path, filename: str, options: SourceOptions, stack: ExitStack) -> Source:
    mapped = options.mapped_columns
    if options.file_format == "xlsx":
        sheet, header, rows = open_workbook(
            path, filename, options.sheet_name, mapped, options.strict, stack
        )
        return Source(None, sheet, [k for k in header.keys if k], rows)
    if options.file_format not in ("csv", "json", "jsonl"):
        raise UnreadableFileError(f"{filename}: unknown file format {options.file_format!r}")
    encoding = (
        check_encoding_name(options.encoding)
        if options.encoding
        else detect_encoding(path, filename)
    )
    if options.file_format == "csv":
        header, rows = open_delimited(path, filename, encoding, mapped, options.strict, stack)
        return Source(encoding, None, [k for k in header.keys if k], rows)
    rows = open_json(path, filename, encoding, mapped, options.records_path, stack)
    return Source(encoding, None, None, rows)


def _guarded(rows: Iterator[SourceRow], filename: str) -> Iterator[SourceRow]:
    """The rows, with an unexpected failure of the reader turned into UnreadableFileError."""
    try:
        yield from rows
    except UnreadableFileError:
        raise
    except Exception as failure:
        raise UnreadableFileError(unreadable_reason(filename, failure)) from failure


def sniff_source(path: Path, filename: str, options: SourceOptions) -> Source:
    """Check that a file can be loaded for a flow, reading its header and first rows.

    Raises UnreadableFileError (one line, naming the file) when it is not readable,
    decodable, has no header, or lacks a mapped column. Returns how it will be read; the
    rows read are not kept (each may be as long as a limit allows), so its rows are none.
    """
    with open_source(path, filename, replace(options, strict=True)) as source:
        if source.columns is None:
            _check_json_keys(islice(source.rows, SNIFF_ROWS), options.mapped_columns, filename)
        else:
            for _ in islice(source.rows, SNIFF_ROWS):
                pass
    return Source(source.encoding, source.sheet_name, source.columns, iter(()))


def _check_json_keys(rows: Iterator[SourceRow], mapped: tuple[str, ...], filename: str) -> None:
    """The keys of the first rows' objects must hold the mapped columns."""
    keys: dict[str, None] = {}
    first, objects = None, False
    for row in rows:
        first = first or row
        if row.cells is not None:
            objects = True
            keys.update(dict.fromkeys(row.cells))
    if not objects:
        reason = f"row {first.row_number} {first.rejection}" if first else "it has no rows"
        raise UnreadableFileError(f"{filename}: not a JSON file of objects: {reason}")
    problems = match_mapped_columns(list(keys), mapped)[1]
    if problems:
        raise MappedColumnError(f"{filename}: {'; '.join(problems).replace('header', 'records')}")
