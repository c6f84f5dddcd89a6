"""Files built to exhaust a reader (DESIGN 3f, issue 24), each small on disk and quick to write.

A workbook's XML is written straight into the zip, member by member and in pieces, so a sheet
of five million cells or 400 MB of shared strings costs a second to build and a few hundred
kilobytes to keep; openpyxl could not write them without holding them. Each builder's default
is the shape the attack used; a test may pass a smaller one that still breaks the limit.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path

_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_TYPES = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_CONTENT_TYPES = f"""<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="{_TYPES}.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_TYPES}.worksheet+xml"/>
<Override PartName="/xl/sharedStrings.xml" ContentType="{_TYPES}.sharedStrings+xml"/>
</Types>"""
_PACKAGE_RELS = f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="{_RELS}"><Relationship Id="rId1" Target="xl/workbook.xml"
 Type="{_OFFICE_RELS}/officeDocument"/></Relationships>"""
_WORKBOOK = f"""<?xml version="1.0" encoding="UTF-8"?>
<workbook xmlns="{MAIN_NS}" xmlns:r="{_OFFICE_RELS}">
<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>"""
_WORKBOOK_RELS = f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="{_RELS}">
<Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="{_OFFICE_RELS}/worksheet"/>
<Relationship Id="rId2" Target="sharedStrings.xml" Type="{_OFFICE_RELS}/sharedStrings"/>
</Relationships>"""
#: Cells written per piece of a generated sheet or string table.
_PIECE = 10_000


def workbook(
    path: Path,
    rows: Iterable[bytes],
    strings: Iterable[bytes] = (),
    *,
    dimension: str | None = None,
    after_rows: bytes = b"",
    prefix: str = "",
    parts: dict[str, bytes] | None = None,
) -> Path:
    """A one-sheet workbook (sheet `Data`) from the XML of its rows and shared strings.

    `rows` and `strings` are pieces of XML (`<row>…</row>`, `<si>…</si>`), written as they
    come; `after_rows` follows the sheet data (merged ranges). `prefix` writes the sheet
    under that namespace prefix (the rows must use it too); `parts` adds members (styles).
    """
    tag = f"{prefix}:" if prefix else ""
    binding = f"xmlns:{prefix}" if prefix else "xmlns"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _PACKAGE_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        for name, content in (parts or {}).items():
            archive.writestr(name, content)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'{_DECLARATION}<{tag}worksheet {binding}="{MAIN_NS}">'.encode())
            if dimension:
                sheet.write(f'<{tag}dimension ref="{dimension}"/>'.encode())
            sheet.write(f"<{tag}sheetData>".encode())
            for piece in rows:
                sheet.write(piece)
            sheet.write(f"</{tag}sheetData>".encode() + after_rows + f"</{tag}worksheet>".encode())
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as table:
            table.write(f'{_DECLARATION}<sst xmlns="{MAIN_NS}">'.encode())
            for piece in strings:
                table.write(piece)
            table.write(b"</sst>")
    return path


def text_row(number: int, values: list[str]) -> bytes:
    """One row of inline strings (values holding no XML markup)."""
    cells = "".join(f'<c t="inlineStr"><is><t>{value}</t></is></c>' for value in values)
    return f'<row r="{number}">{cells}</row>'.encode()


def one_row_workbook(path: Path, cells: int = 5_000_000, prefix: str = "") -> Path:
    """One row of `cells` numeric cells: 5 million make a file of a few hundred KB that
    openpyxl expands into gigabytes (it builds a row whole before yielding it)."""
    tag = f"{prefix}:" if prefix else ""
    cell = f"<{tag}c><{tag}v>1</{tag}v></{tag}c>".encode()

    def pieces():
        yield f'<{tag}row r="1">'.encode()
        for start in range(0, cells, _PIECE):
            yield cell * min(_PIECE, cells - start)
        yield f"</{tag}row>".encode()

    return workbook(path, pieces(), prefix=prefix)


def shared_strings_bomb(path: Path, megabytes: int = 400) -> Path:
    """A header row and one data row whose shared string table expands to `megabytes` of
    text (one string per megabyte): openpyxl reads the whole table before any row."""
    string = b"<si><t>" + b"x" * (1 << 20) + b"</t></si>"
    header = b'<row r="1"><c t="s"><v>0</v></c></row><row r="2"><c t="s"><v>1</v></c></row>'
    return workbook(path, [header], (string for _ in range(megabytes)))


def many_shared_strings(path: Path, count: int) -> Path:
    """A string table of `count` one-character strings: small in bytes, long as a list."""
    rows = [b'<row r="1"><c t="s"><v>0</v></c></row>']
    return workbook(
        path, rows, (b"<si><t>x</t></si>" * min(_PIECE, count - n) for n in range(0, count, _PIECE))
    )


def declared_dimension_workbook(path: Path, ref: str = "A1:XFD1048576") -> Path:
    """Two real rows under a declared dimension of the whole sheet: openpyxl pads every row
    to the declared width and yields every declared row, a billion cells from 2 KB."""
    return workbook(path, [text_row(1, ["Name"]), text_row(2, ["web-1"])], dimension=ref)


def merged_ranges_workbook(path: Path, ranges: list[str]) -> Path:
    """A header and a data row, and the merged ranges given (`A1:B1`)."""
    merges = "".join(f'<mergeCell ref="{ref}"/>' for ref in ranges)
    after = f'<mergeCells count="{len(ranges)}">{merges}</mergeCells>'.encode()
    return workbook(path, [text_row(1, ["Name"]), text_row(2, ["web-1"])], after_rows=after)


def styles_workbook(path: Path, formats: int) -> Path:
    """A header and a data row under a style sheet of `formats` empty cell formats, which
    openpyxl turns into an object each (some 600 bytes) when it loads the workbook."""
    styles = (
        f'<styleSheet xmlns="{MAIN_NS}"><cellXfs count="{formats}">'.encode()
        + b"<xf/>" * formats
        + b"</cellXfs></styleSheet>"
    )
    rows = [text_row(1, ["Name"]), text_row(2, ["web-1"])]
    return workbook(path, rows, parts={"xl/styles.xml": styles})


def repeated_name_csv(path: Path, columns: int = 20_000, name: str = "x") -> Path:
    """A header repeating one name `columns` times: 20 000 make 40 KB (40 000, 80 KB), and
    naming each repeat by trying `x_2`, `x_3`… in turn takes quadratic time."""
    path.write_text(",".join([name] * columns) + "\n")
    return path


def huge_field_csv(path: Path, megabytes: int = 64) -> Path:
    """A header and one data row whose only field is `megabytes` long, on one line."""
    with path.open("w", encoding="ascii") as handle:
        handle.write("Name\n")
        for _ in range(megabytes):
            handle.write("x" * (1 << 20))
        handle.write("\n")
    return path
