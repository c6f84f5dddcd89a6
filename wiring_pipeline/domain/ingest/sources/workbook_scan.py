"""Measuring a workbook against the limits before openpyxl reads it (DESIGN 3f).

openpyxl holds what a workbook declares: the shared strings as one list before the first
row, each row whole (its XML and a cell per column) before yielding it, every row padded to
the declared width and every declared row yielded, each part other than a worksheet parsed
whole; and its load parses, end to end, every worksheet that does not declare its dimension
before its cells. So a workbook is measured first, in bounded memory:

- from the zip directory, before anything is decompressed: each part's uncompressed size
  (the zip module never yields more than the directory says, and checks the CRC);
- by a streaming scan of each part's XML in blocks: the shared strings counted, the elements
  of every other part, and a worksheet's declared dimension, each row's number, cells, width
  and XML, its cells in all, its merged ranges, and what it holds besides its cells.

Sheets and parts are found as openpyxl finds them (the manifest, the workbook part and its
relationships, read once they are measured), so every part it will open is measured before
it does. A worksheet that declares its dimension first is read no further by the load, so
it is scanned whole only when the reader comes to it (`WorkbookScan.merged`): a big RVTools
workbook's other sheets cost nothing. A worksheet's tags are those of the spreadsheet
namespace, unprefixed or under any prefix the sheet binds to it, as openpyxl sees them.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl.packaging.manifest import Manifest
from openpyxl.packaging.relationship import get_rels_path
from openpyxl.reader.excel import _find_workbook_part
from openpyxl.reader.workbook import WorkbookParser
from openpyxl.utils.cell import column_index_from_string, range_boundaries
from openpyxl.xml.constants import ARC_CONTENT_TYPES, SHARED_STRINGS, SHEET_MAIN_NS
from openpyxl.xml.functions import fromstring

from wiring_pipeline.domain.ingest.sources.limits import (
    COLUMNS,
    XLSX_CELLS,
    XLSX_MERGED_RANGES,
    XLSX_PART_BYTES,
    XLSX_PART_ELEMENTS,
    XLSX_ROW_BYTES,
    XLSX_ROWS,
    XLSX_SHARED_STRINGS,
    XLSX_SHARED_STRINGS_BYTES,
    XLSX_SHEET_BYTES,
)
from wiring_pipeline.domain.ingest.sources.rows import (
    FileLimitError,
    UnreadableFileError,
    check_limit,
)

#: (min_col, min_row, max_col, max_row) of a merged range.
Range = tuple[int, int, int, int]

_BLOCK = 1 << 20
_ANY_PREFIX = rb"(?:[A-Za-z_][\w.-]{0,31}:)?"
_SHARED_STRING = re.compile(rb"<" + _ANY_PREFIX + rb"si(?=[\s/>])")
#: A prefix bound to the spreadsheet namespace, which openpyxl reads the sheet's tags in.
_BINDING = re.compile(
    rb"xmlns:([A-Za-z_][\w.-]*)\s*=\s*[\"']" + re.escape(SHEET_MAIN_NS.encode()) + rb"[\"']"
)
_ATTRIBUTE = {
    name: re.compile(rb"\s" + name + rb"""\s*=\s*(["'])(.*?)\1""", re.DOTALL)
    for name in (b"r", b"ref")
}
_CELL_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?\d+")
_MERGE_REF = re.compile(r"[A-Z]+[0-9]+:[A-Z]+[0-9]+")


@dataclass(frozen=True)
class _SheetTags:
    """A worksheet's tags under its prefixes: those that shape it (and the end of its
    cells), with their attributes (the tag's text up to its `>`), and its cells, counted
    between them all at once. Literal prefixes keep the scan near two million cells a
    second; a pattern allowing any prefix is several times slower."""

    shape: re.Pattern[bytes]
    #: A cell's start, to count; a cell with its attributes, to read one at a known place;
    #: the literal starts of a cell tag, to look for one from the end.
    cell: re.Pattern[bytes]
    cell_at: re.Pattern[bytes]
    cell_starts: tuple[bytes, ...]

    @classmethod
    def under(cls, prefixes: frozenset[bytes]) -> _SheetTags:
        alternatives = b"|".join(re.escape(p) + b":" for p in sorted(prefixes))
        prefix = b"(?:" + alternatives + b")?" if prefixes else b""
        return cls(
            re.compile(
                b"<" + prefix + rb"(row|dimension|mergeCell|sheetData)(?=[\s/>])([^<>]*)"
                b"|</" + prefix + rb"sheetData\s*>"
            ),
            re.compile(b"<" + prefix + rb"c(?=[\s/>])"),
            re.compile(b"<" + prefix + rb"c(?=[\s/>])([^<>]*)"),
            (b"<c", *(b"<" + p + b":c" for p in sorted(prefixes))),
        )


@dataclass
class WorkbookScan:
    """A measured workbook: each worksheet's merged ranges, scanned when first asked for."""

    path: Path
    filename: str
    #: Worksheet part -> title.
    titles: dict[str, str]
    merged_ranges: dict[str, list[Range]] = field(default_factory=dict)

    def merged(self, part: str) -> list[Range]:
        """The worksheet's merged ranges, by first row, once its whole XML is measured."""
        if part not in self.merged_ranges:
            with zipfile.ZipFile(self.path) as archive:
                scanned = _scan_sheet(archive, part, self.titles[part], self.filename)
            self.merged_ranges[part] = scanned
        return self.merged_ranges[part]


def scan_workbook(path: Path, filename: str) -> WorkbookScan:
    """The workbook measured as far as openpyxl's load will read it; FileLimitError (one
    line, naming the limit) when any part of it is past a limit."""
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: info for info in archive.infolist()}
        for info in parts.values():
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise UnreadableFileError(
                    f"{filename}: not a readable .xlsx workbook: part {info.filename} is"
                    f" compressed with method {info.compress_type}, which Excel never uses"
                )
        _check_whole(archive, parts, ARC_CONTENT_TYPES, filename)
        manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
        workbook_part = _find_workbook_part(manifest).PartName[1:]
        checked = {ARC_CONTENT_TYPES, workbook_part, get_rels_path(workbook_part)}
        for name in checked - {ARC_CONTENT_TYPES}:
            _check_whole(archive, parts, name, filename)
        workbook = WorkbookParser(archive, workbook_part, keep_links=False)
        workbook.parse()
        sheets = {
            rel.target: sheet.name
            for sheet, rel in workbook.find_sheets()
            if rel.target in parts and "chartsheet" not in rel.Type  # as openpyxl tells them
        }
        check_limit(
            XLSX_SHEET_BYTES,
            sum(parts[name].file_size for name in sheets),
            filename,
            "its worksheets are {} bytes of XML",
        )
        strings = manifest.find(SHARED_STRINGS)
        strings_part = strings.PartName[1:] if strings is not None else None
        for name in parts:
            if name == strings_part:
                _check_shared_strings(archive, parts[name], filename)
            elif name not in sheets and name not in checked and name.endswith((".xml", ".rels")):
                _check_whole(archive, parts, name, filename)
        scan = WorkbookScan(path, filename, sheets)
        for name, title in sheets.items():
            merged = _scan_sheet(archive, name, title, filename, unless_declared=True)
            if merged is not None:
                scan.merged_ranges[name] = merged
        return scan


def _pieces(archive: zipfile.ZipFile, name: str, filename: str) -> Iterator[tuple[bytes, int]]:
    """The part's XML block by block, as (text, end): text[:end] ends with no tag cut in two,
    the cut tag's start being carried into the next text. The ends add up to the offset of
    the next text in the part. A tag that never ends is refused once past XLSX_ROW_BYTES."""
    carry = b""
    with archive.open(name) as xml:
        for block in iter(lambda: xml.read(_BLOCK), b""):
            text = carry + block
            start = text.rfind(b"<")
            end = start if start != -1 and text.find(b">", start) == -1 else len(text)
            check_limit(
                XLSX_ROW_BYTES, len(text) - end, filename, "holds a tag of {} bytes", f"{name} "
            )
            yield text, end
            carry = text[end:]
    if carry:
        yield carry, len(carry)


def _elements(text: bytes, start: int, end: int) -> int:
    """Start tags (an empty element's too) in text[start:end]; a declaration, comment or
    end tag is none."""
    count = text.count
    return (
        count(b"<", start, end)
        - count(b"</", start, end)
        - count(b"<?", start, end)
        - count(b"<!", start, end)
    )


def _check_whole(archive: zipfile.ZipFile, parts: dict, name: str, filename: str) -> None:
    """A part openpyxl parses whole: its size, then its elements."""
    if name not in parts:
        return  # openpyxl says what is missing, where it needs the part
    subject = f"part {name} "
    check_limit(XLSX_PART_BYTES, parts[name].file_size, filename, "is {} bytes", subject)
    elements = sum(_elements(text, 0, end) for text, end in _pieces(archive, name, filename))
    check_limit(XLSX_PART_ELEMENTS, elements, filename, "has {} elements", subject)


def _check_shared_strings(archive: zipfile.ZipFile, info: zipfile.ZipInfo, filename: str) -> None:
    check_limit(
        XLSX_SHARED_STRINGS_BYTES,
        info.file_size,
        filename,
        "its shared strings are {} bytes of XML",
    )
    count = 0
    for text, end in _pieces(archive, info.filename, filename):
        count += len(_SHARED_STRING.findall(text, 0, end))
        check_limit(XLSX_SHARED_STRINGS, count, filename, "it has at least {} shared strings")


def _attribute(attributes: bytes, name: bytes) -> str | None:
    found = _ATTRIBUTE[name].search(attributes)
    return found.group(2).decode("utf-8", "replace") if found else None


def _row_number(value: str) -> int:
    """As openpyxl reads a row's `r`: an integer, or a float that is one."""
    try:
        return int(value)
    except ValueError:
        number = float(value)
        if not number.is_integer():
            raise ValueError(f"{value} is not a valid row number") from None
        return int(number)


class _SheetScanner:
    """The running measures of one worksheet's XML, refusing at the first limit passed."""

    def __init__(self, title: str, filename: str, tags: _SheetTags) -> None:
        self.title = title
        self.filename = filename
        self.tags = tags
        self.inside = False  # within <sheetData>
        self.cells_reached = False  # <sheetData> seen
        self.declared_first = False  # a dimension before the cells
        self.row = 0  # the current row's number, as openpyxl counts them
        self.last_row = 0
        self.row_start: int | None = None  # where the current row's XML starts
        self.row_cells = 0  # the current row's cells
        self.row_width = 0  # and its width, as openpyxl will make it
        self.cells = 0
        self.merged: list[Range] = []
        self.outside_bytes = 0
        self.outside_elements = 0

    def check(self, limit, found: int, what: str) -> None:
        check_limit(limit, found, self.filename, what, f"sheet {self.title!r} ")

    def feed(self, text: bytes, end: int, offset: int) -> None:
        """Scan text[:end], whose first byte is at `offset` in the part."""
        outside_from = None if self.inside else 0
        position = 0
        for match in self.tags.shape.finditer(text, 0, end):
            self.add_cells(text, position, match.start())
            position = match.end()
            name = match.group(1)
            if name == b"row":
                self.end_row(offset + match.start())
                self.start_row(match.group(2), offset + match.start())
            elif name is None:  # </sheetData>
                self.end_row(offset + match.start())
                self.inside, outside_from = False, match.end()
            elif name == b"sheetData":
                if outside_from is not None:
                    self.outside(text, outside_from, match.start())
                self.inside = not match.group(2).rstrip().endswith(b"/")
                self.cells_reached = True
                outside_from = None if self.inside else match.end()
            elif name == b"dimension":
                self.declared(_attribute(match.group(2), b"ref"))
            else:
                self.merge(_attribute(match.group(2), b"ref"))
        self.add_cells(text, position, end)
        if outside_from is not None:
            self.outside(text, outside_from, end)
        if self.row_start is not None:
            self.check_row_bytes(offset + end - self.row_start)

    def add_cells(self, text: bytes, start: int, end: int) -> None:
        """The cells in text[start:end], to the current row: counted all at once, then the
        row's width found from the last cell with a reference."""
        count = len(self.tags.cell.findall(text, start, end))
        if not count:
            return
        self.row_cells += count
        if self.row_cells > COLUMNS.value:
            raise FileLimitError(
                COLUMNS.refusal(
                    self.filename,
                    f"sheet {self.title!r} row {self.row} has more than {COLUMNS.value:,} cells",
                )
            )
        column, after = self.last_reference(text, start, end)
        self.row_width = self.row_width + count if column is None else column + after

    def last_reference(self, text: bytes, start: int, end: int) -> tuple[int | None, int]:
        """The column of the last cell in text[start:end] that has a reference, and how many
        cells follow it, as openpyxl counts them: a cell without a reference is in the
        column after the one before it. Found from the end, where it nearly always is."""
        after = 0
        while (at := max(text.rfind(tag, start, end) for tag in self.tags.cell_starts)) != -1:
            found = self.tags.cell_at.match(text, at, end)
            if found:
                reference = _attribute(found.group(1), b"r")
                column = _CELL_REF.fullmatch(reference) if reference else None
                if column:
                    return column_index_from_string(column.group(1).upper()), after
                after += 1
            end = at
        return None, after

    def outside(self, text: bytes, start: int, end: int) -> None:
        """XML outside the cells, which openpyxl keeps or turns into objects."""
        self.outside_bytes += end - start
        self.outside_elements += _elements(text, start, end)
        self.check(XLSX_PART_BYTES, self.outside_bytes, "holds {} bytes of XML besides its cells")
        self.check(XLSX_PART_ELEMENTS, self.outside_elements, "has {} elements besides its cells")

    def start_row(self, attributes: bytes, at: int) -> None:
        number = _attribute(attributes, b"r")
        self.row = _row_number(number) if number is not None else self.row + 1
        self.check(XLSX_ROWS, self.row, "has a row numbered {}")
        self.last_row = max(self.last_row, self.row)
        self.row_start = at

    def end_row(self, at: int) -> None:
        if self.row_start is None:
            return
        self.check_row_bytes(at - self.row_start)
        self.check(COLUMNS, self.row_width, f"row {self.row} reaches column {{}}")
        self.cells += self.row_cells
        self.check(XLSX_CELLS, self.cells, "has {} cells")
        self.row_start, self.row_cells, self.row_width = None, 0, 0

    def check_row_bytes(self, size: int) -> None:
        self.check(XLSX_ROW_BYTES, size, f"row {self.row} is at least {{}} bytes of XML")

    def declared(self, ref: str | None) -> None:
        if not ref:
            return
        self.declared_first = self.declared_first or not self.cells_reached
        min_col, min_row, max_col, max_row = range_boundaries(ref)
        self.check(COLUMNS, max_col or 0, "declares {} columns")
        self.check(XLSX_ROWS, max_row or 0, "declares {} rows")
        if max_col and max_row:
            declared = (max_col - (min_col or 1) + 1) * (max_row - (min_row or 1) + 1)
            self.check(XLSX_CELLS, declared, "declares {} cells")

    def merge(self, ref: str | None) -> None:
        if not ref or not _MERGE_REF.fullmatch(ref):
            return
        bounds = range_boundaries(ref)
        self.check(COLUMNS, bounds[2], "merges cells up to column {}")
        self.merged.append(bounds)
        self.check(XLSX_MERGED_RANGES, len(self.merged), "has {} merged ranges")

    def finish(self, at: int) -> list[Range]:
        """The merged ranges, once their cells, as the rows present fill them, are counted
        with the written ones (`at`: the part's end, for a row never closed)."""
        self.end_row(at)
        filled = sum(
            (max_col - min_col + 1) * (min(max_row, self.last_row) - min_row + 1)
            for min_col, min_row, max_col, max_row in self.merged
            if min_row <= self.last_row
        )
        self.check(XLSX_CELLS, self.cells + filled, "has {} cells with its merged ranges filled")
        return sorted(set(self.merged), key=lambda r: r[1])


def _scan_sheet(
    archive: zipfile.ZipFile, name: str, title: str, filename: str, unless_declared: bool = False
) -> list[Range] | None:
    """The worksheet's merged ranges, its whole XML measured. `unless_declared`: None as
    soon as it turns out to declare its dimension before its cells (openpyxl's load reads
    no further). The prefixes bound in its first block are the usual ones; one bound later
    makes a second pass collect them all and the scan start again under them."""
    prefixes: frozenset[bytes] | None = None
    while True:
        scanner, offset = None, 0
        for text, end in _pieces(archive, name, filename):
            bound = frozenset(_BINDING.findall(text, 0, end))
            if prefixes is None:
                prefixes = bound
            elif not bound <= prefixes:
                break
            scanner = scanner or _SheetScanner(title, filename, _SheetTags.under(prefixes))
            scanner.feed(text, end, offset)
            offset += end
            if unless_declared and scanner.cells_reached and scanner.declared_first:
                return None
        else:
            if scanner is None:  # an empty part: openpyxl says it is no worksheet
                return []
            return scanner.finish(offset)
        prefixes = frozenset(
            prefix
            for text, end in _pieces(archive, name, filename)
            for prefix in _BINDING.findall(text, 0, end)
        )
