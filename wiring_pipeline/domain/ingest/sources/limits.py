"""How big a file's parts may be, declared once, so that any file is read in bounded memory
and time whatever its shape (DESIGN 3f).

A file past a limit is refused in one line naming the limit and its value: `import` exits
2, the loader fails that import alone. Each value is generous for real exports (an RVTools
vInfo sheet has 93 columns and tens of thousands of rows, a CMDB a few hundred columns) and
small enough that what the readers hold at once stays far below the pipeline's 500 MB. A
workbook is measured from its zip directory and a streaming scan of its XML before openpyxl
reads any of it, since openpyxl itself holds whatever a part declares.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    name: str
    value: int
    unit: str
    why: str

    def exceeded(self, found: str) -> str:
        """What was found, then the limit it is past: a rejected row's reason."""
        return f"{found}; the limit is {self.value:,} {self.unit} ({self.name})"

    def refusal(self, filename: str, found: str) -> str:
        """The one line refusing a file."""
        return f"{filename}: {self.exceeded(found)}"


MiB = 1 << 20

COLUMNS = Limit(
    "max_columns",
    2_048,
    "columns",
    "A header's columns, a sheet's declared or used width, a JSON record's keys: every row is "
    "a dictionary of that many cells, and a CMDB's widest export has a few hundred.",
)
HEADER_NAME_CHARS = Limit(
    "max_header_name_chars",
    1_024,
    "characters",
    "One column name; every name is compared with each mapped column, and real ones are "
    "under a hundred characters.",
)
CELL_CHARS = Limit(
    "max_cell_chars",
    32_767,
    "characters",
    "Excel's own cell limit: any cell a spreadsheet can hold loads, a longer one is a "
    "rejected row (a runaway quoted field in a broken CSV), not a refused file.",
)
CSV_RECORD_CHARS = Limit(
    "max_csv_record_chars",
    16 * MiB,
    "characters",
    "One CSV record, all its fields and lines, is held at once; no field can be longer. "
    "Lines are read with this bound, so a line without an end cannot fill the memory.",
)
JSON_VALUE_CHARS = Limit(
    "max_json_value_chars",
    16 * MiB,
    "characters",
    "One JSON value decoded whole: a record, an array element, a member stepped over.",
)
JSON_DEPTH = Limit(
    "max_json_depth",
    64,
    "levels",
    "Objects nested in a record, each level a part of a dotted column name; no export "
    "nests that deep, and a deeper record is a rejected row rather than a recursion crash.",
)
XLSX_ROWS = Limit(
    "max_xlsx_rows",
    1_048_576,
    "rows",
    "Excel's last row: a row numbered (or a dimension declared) past it would make the "
    "reader count through empty rows that cannot exist.",
)
XLSX_CELLS = Limit(
    "max_xlsx_cells",
    20_000_000,
    "cells",
    "The cells of one worksheet (written cells and merged ranges filled, or the declared "
    "dimension's rows times columns); openpyxl parses some 150 000 a second, so this is "
    "a few minutes, and an RVTools vInfo of 50 000 VMs is under 5 million.",
)
XLSX_ROW_BYTES = Limit(
    "max_xlsx_row_bytes",
    16 * MiB,
    "bytes",
    "One row's XML, which openpyxl builds whole before yielding the row (and any one tag, "
    "which the scan holds whole).",
)
XLSX_MERGED_RANGES = Limit(
    "max_xlsx_merged_ranges",
    100_000,
    "merged ranges",
    "A sheet's merged ranges, each filled into the rows it covers; a report has hundreds.",
)
XLSX_SHEET_BYTES = Limit(
    "max_xlsx_sheet_bytes",
    2_048 * MiB,
    "bytes uncompressed",
    "All worksheets' XML together: each is scanned before it is read, and the scan and "
    "openpyxl's parse take time in proportion.",
)
XLSX_SHARED_STRINGS = Limit(
    "max_xlsx_shared_strings",
    1_000_000,
    "strings",
    "The workbook's shared strings, which openpyxl holds as one list before reading any "
    "row (a million take some 130 MB and 9 seconds).",
)
XLSX_SHARED_STRINGS_BYTES = Limit(
    "max_xlsx_shared_strings_bytes",
    64 * MiB,
    "bytes uncompressed",
    "The shared strings' XML, read from the zip directory before anything is decompressed.",
)
XLSX_PART_BYTES = Limit(
    "max_xlsx_part_bytes",
    16 * MiB,
    "bytes uncompressed",
    "Any other XML part (workbook, styles, relationships, properties), and what a worksheet "
    "holds besides its cells: openpyxl parses them whole.",
)
XLSX_PART_ELEMENTS = Limit(
    "max_xlsx_part_elements",
    250_000,
    "elements",
    "The elements of such a part: openpyxl makes an object of each (a style takes some "
    "600 bytes), and a workbook with Excel's 64 000 cell formats has about 130 000.",
)

#: Every limit, in the order the documentation lists them.
LIMITS = (
    COLUMNS,
    HEADER_NAME_CHARS,
    CELL_CHARS,
    CSV_RECORD_CHARS,
    JSON_VALUE_CHARS,
    JSON_DEPTH,
    XLSX_ROWS,
    XLSX_CELLS,
    XLSX_ROW_BYTES,
    XLSX_MERGED_RANGES,
    XLSX_SHEET_BYTES,
    XLSX_SHARED_STRINGS,
    XLSX_SHARED_STRINGS_BYTES,
    XLSX_PART_BYTES,
    XLSX_PART_ELEMENTS,
)
