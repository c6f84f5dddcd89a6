"""`flow suggest FILE` and `flow add --from FILE`: a file's header and first rows, read with
the `import` readers, turned into a suggestion (`suggest.suggest_flow`).

How the file is read is chosen as a consultant would: a workbook is read from the sheet the
readers choose, unless that one has no known shape and the workbook has a sheet a profile's
tool writes (`vInfo` before `vHost`); a JSON document wrapping its records is read through
the path the readers find (the EC2 one, `Reservations[].Instances[]`, when it is among
them). Nothing is written; a file that cannot be read is one line (UserInputError).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import islice
from pathlib import Path

from wiring_pipeline.domain.ingest.profiles import PROFILES, profile_sheets, recognise
from wiring_pipeline.domain.ingest.registry import detect_format, readable_name
from wiring_pipeline.domain.ingest.sources import (
    SourceOptions,
    UnreadableFileError,
    WrappedRecordsError,
    open_source,
)
from wiring_pipeline.domain.ingest.suggest import Suggestion, suggest_flow

#: Data rows read for the suggestion's value detection and unit guesses.
SAMPLE_ROWS = 500


def suggest_for_file(path: Path, sheet: str | None = None) -> Suggestion:
    """The suggestion for one file; `sheet` names the worksheet of a workbook."""
    path = Path(path)
    filename = readable_name(path.name)
    if not path.is_file():
        raise UnreadableFileError(f"{filename}: no such file")
    file_format = detect_format(path)
    if sheet is not None and file_format != "xlsx":
        raise UnreadableFileError(f"{filename}: --sheet is for .xlsx workbooks only")
    options = SourceOptions(file_format, sheet_name=sheet)
    columns, rows, options = _sample(path, filename, options)
    sheets: tuple[str, ...] = ()
    if file_format == "xlsx" and sheet is None and recognise(columns, [options.sheet_name]) is None:
        # The readers chose a sheet of no known shape: read a profile's sheet if there is one.
        sheets = sheet_names(path)
        other = next((s for s in profile_sheets() if s in sheets), None)
        if other is not None and other != options.sheet_name:
            columns, rows, options = _sample(path, filename, replace(options, sheet_name=other))
    if not columns:
        raise UnreadableFileError(f"{filename}: no column to suggest a flow for")
    return suggest_flow(columns, rows, options.sheet_name, sheets, options.records_path)


def _sample(path: Path, filename: str, options: SourceOptions):
    """The header's columns, the first rows' cells, and the options that read them (with the
    worksheet read, and the records path of a document that wraps its records)."""
    try:
        with open_source(path, filename, options) as source:
            sample = [r.cells for r in islice(source.rows, SAMPLE_ROWS) if r.cells is not None]
            columns, read_sheet = source.columns, source.sheet_name
    except WrappedRecordsError as wrapped:
        if options.records_path is not None:
            raise
        declared = [p.records_path for p in PROFILES if p.records_path in wrapped.records_paths]
        chosen = (declared or list(wrapped.records_paths))[0]
        return _sample(path, filename, replace(options, records_path=chosen))
    if columns is None:  # JSON: every record has keys of its own
        columns = list(dict.fromkeys(key for cells in sample for key in cells))
    return columns, sample, replace(options, sheet_name=read_sheet)


def sheet_names(path: Path) -> tuple[str, ...]:
    """The sheets of a workbook the readers have just read (so it opens)."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True)
    try:
        return tuple(workbook.sheetnames)
    finally:
        workbook.close()
