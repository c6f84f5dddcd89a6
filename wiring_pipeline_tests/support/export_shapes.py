"""Generated files in the shapes consultants bring (issue 12), each with what it must load to.

Every builder writes its file and returns a `Shape`: the flow's mappings, the rows the raw
records must hold (by row number), and the rows that must be rejected at load (by row
number and reason fragment), so a test asserts the exact row accounting and the values.
Row numbers are where a person finds the row (DESIGN 3d): the CSV line (the header is line
1), the spreadsheet row, the line of JSON Lines, the element's place in a JSON array.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

#: Real third-party exports, kept beside the project and never copied into it.
REAL_EXPORTS = Path(__file__).resolve().parents[2].parent / "shared" / "real_exports"


def real_export(name: str) -> Path:
    """A real export by file name; the test is skipped where the files are not checked out."""
    path = REAL_EXPORTS / name
    if not path.is_file():
        pytest.skip(f"real export {name} is not at {REAL_EXPORTS}")
    return path


#: The servers every text shape carries, with accents in the name and the owner.
SERVERS = [
    {"Asset Name": "srv-müller-01", "CI Class": "Server", "Environment": "Production",
     "Propriétaire": "Jürgen Müller"},
    {"Asset Name": "café-db", "CI Class": "Database", "Environment": "Test",
     "Propriétaire": "Zoë Ça"},
    {"Asset Name": "plain-web", "CI Class": "Server", "Environment": "Dev",
     "Propriétaire": "Bob"},
]  # fmt: skip
MAPPINGS = {
    "Asset Name": "name",
    "CI Class": "asset_type",
    "Environment": "environment",
    "Propriétaire": "owner",
}


@dataclass
class Shape:
    path: Path
    mappings: dict[str, str]
    #: row number -> the raw record's cells.
    loaded: dict[int, dict[str, str]]
    #: row number -> a fragment of the rejection reason.
    rejected: dict[int, str] = field(default_factory=dict)
    encoding: str | None = None
    sheet_name: str | None = None
    #: Where a JSON document keeps its records (the flow's spec says it too).
    records_path: str | None = None

    @property
    def source_rows(self) -> int:
        return len(self.loaded) + len(self.rejected)


def _delimited(rows: list[dict], delimiter: str, newline: str = "\r\n") -> str:
    header = list(rows[0])
    lines = [delimiter.join(header)] + [delimiter.join(row[c] for c in header) for row in rows]
    return newline.join(lines) + newline


def windows_1252_semicolon(tmp: Path) -> Shape:
    """A CSV saved by a European Excel: Windows-1252, `;`, CRLF, an accented header."""
    path = tmp / "servers-excel-de.csv"
    path.write_bytes(_delimited(SERVERS, ";").encode("cp1252"))
    return Shape(path, MAPPINGS, dict(enumerate(SERVERS, start=2)), encoding="cp1252")


def utf16_tab(tmp: Path) -> Shape:
    """Excel's "Unicode Text": UTF-16 LE with a BOM, tab-separated."""
    path = tmp / "servers-unicode.txt"
    path.write_bytes(_delimited(SERVERS, "\t").encode("utf-16"))
    return Shape(path, MAPPINGS, dict(enumerate(SERVERS, start=2)), encoding="utf-16")


def sep_line(tmp: Path) -> Shape:
    """`sep=;` first line (Excel's hint), UTF-8, a comma inside a cell: the `sep=` line is
    line 1, so the header is line 2 and the first server line 3."""
    rows = [dict(row, **{"CI Class": "Server, physical"}) for row in SERVERS]
    path = tmp / "servers-sep.csv"
    path.write_bytes(("sep=;\r\n" + _delimited(rows, ";")).encode("utf-8"))
    return Shape(path, MAPPINGS, dict(enumerate(rows, start=3)), encoding="utf-8")


def decimal_commas(tmp: Path) -> Shape:
    """Memory in every local spelling, one ambiguous and one not a number."""
    memory = ["7,5", "1.024,5", "1 024", "1,024", "lots", "2.048.000", "16"]
    rows = [
        {"Asset Name": f"srv-{n}", "CI Class": "Server", "Environment": "Prod", "RAM": value}
        for n, value in enumerate(memory, start=1)
    ]
    path = tmp / "decimal-commas.csv"
    path.write_bytes(_delimited(rows, ";").encode("utf-8"))
    mappings = {**{k: v for k, v in MAPPINGS.items() if k != "Propriétaire"}, "RAM": "memory_gb"}
    return Shape(path, mappings, dict(enumerate(rows, start=2)), encoding="utf-8")


def header_case(tmp: Path) -> Shape:
    """Headers in another case and with spaces than the mapping: matched, keyed as mapped."""
    path = tmp / "shouting.csv"
    path.write_text(
        "ASSET NAME,ci class, Environment ,PROPRIÉTAIRE\nweb-1,Server,Production,Ann\n",
        encoding="utf-8",
    )
    loaded = {2: {"Asset Name": "web-1", "CI Class": "Server", "Environment": "Production",
                  "Propriétaire": "Ann"}}  # fmt: skip
    return Shape(path, MAPPINGS, loaded, encoding="utf-8")


def json_array(tmp: Path) -> Shape:
    """PowerShell's `ConvertTo-Json`: one array of objects (one element is not an object)."""
    items: list = [dict(row, Cores=4, Active=True) for row in SERVERS]
    items.insert(1, "not an object")
    path = tmp / "servers.json"
    path.write_text(json.dumps(items, indent=2, ensure_ascii=False), encoding="utf-8")
    loaded = {1: items[0], 3: items[2], 4: items[3]}
    loaded = {n: {**row, "Cores": "4", "Active": "true"} for n, row in loaded.items()}
    return Shape(path, MAPPINGS, loaded, {2: "is a JSON str, not an object"}, encoding="utf-8")


def jsonl_bom_broken(tmp: Path) -> Shape:
    """JSON Lines with a BOM, a broken first line and a broken line in the middle."""
    lines = ['{"Asset Name": "broken-first", ']
    lines += [json.dumps(row, ensure_ascii=False) for row in SERVERS[:2]]
    lines += ["{not json at all}", json.dumps(SERVERS[2], ensure_ascii=False)]
    path = tmp / "servers.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8") + b"\n")
    loaded = {2: SERVERS[0], 3: SERVERS[1], 5: SERVERS[2]}
    rejected = {1: "is not valid JSON", 4: "is not valid JSON"}
    return Shape(path, MAPPINGS, loaded, rejected, encoding="utf-8-sig")


def nested_json(tmp: Path) -> Shape:
    """Nested objects: mapped by dotted path (`os.name`); lists stay JSON text."""
    items = [
        {"name": "web-1", "class": "Server", "env": "Production",
         "os": {"name": "Linux", "version": {"major": 9}}, "ips": ["10.0.0.1", "10.0.0.2"]},
        {"name": "db-1", "class": "Database", "env": "Test", "os": {"name": "Windows"},
         "ips": []},
    ]  # fmt: skip
    path = tmp / "nested.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    mappings = {"name": "name", "class": "asset_type", "env": "environment",
                "os.name": "operating_system", "os.version.major": "os_version"}  # fmt: skip
    loaded = {
        1: {"name": "web-1", "class": "Server", "env": "Production", "os.name": "Linux",
            "os.version.major": "9", "ips": '["10.0.0.1", "10.0.0.2"]'},
        2: {"name": "db-1", "class": "Database", "env": "Test", "os.name": "Windows",
            "ips": "[]"},
    }  # fmt: skip
    return Shape(path, mappings, loaded, encoding="utf-8")


def messy_workbook(tmp: Path) -> Shape:
    """A hidden lookup sheet first; a title row; an unnamed empty column; `Notes` twice;
    a merged Environment cell over two rows; `#N/A`; a date; a formula with its result.
    The header is on row 3 (a title, an empty row), so the servers are rows 4 and 5."""
    workbook = Workbook()
    lookup = workbook.active
    lookup.title = "Lookup"
    lookup.append(["Asset Name", "CI Class", "Environment"])
    lookup.append(["not-a-server", "Lookup", "None"])
    lookup.sheet_state = "hidden"
    sheet = workbook.create_sheet("Servers")
    sheet.append(["CMDB export, 2024-05-01"])
    sheet.append([])
    sheet.append(["Asset Name", "CI Class", "Environment", None, "Notes", "Notes", "Memory",
                  "Purchased", "Cores"])  # fmt: skip
    sheet.append(["srv-1", "Server", "Production", None, "a", "b", 16,
                  datetime(2023, 4, 1), "=2*4"])  # fmt: skip
    sheet.append(["srv-2", "Server", None, None, "c", None, "#N/A",
                  datetime(2023, 4, 2, 13, 30), 2])  # fmt: skip
    sheet.merge_cells("C4:C5")
    path = tmp / "cmdb.xlsx"
    workbook.save(path)
    _cache_formula_result(path, "xl/worksheets/sheet2.xml", "2*4", "8")
    mappings = {"Asset Name": "name", "CI Class": "asset_type", "Environment": "environment",
                "Memory": "memory_gb", "Cores": "cpu_cores"}  # fmt: skip
    loaded = {
        4: {"Asset Name": "srv-1", "CI Class": "Server", "Environment": "Production",
            "Notes": "a", "Notes_2": "b", "Memory": "16", "Purchased": "2023-04-01",
            "Cores": "8"},
        5: {"Asset Name": "srv-2", "CI Class": "Server", "Environment": "Production",
            "Notes": "c", "Notes_2": "", "Memory": "#N/A", "Purchased": "2023-04-02T13:30:00",
            "Cores": "2"},
    }  # fmt: skip
    return Shape(path, mappings, loaded, sheet_name="Servers")


EC2_RECORDS_PATH = "Reservations[].Instances[]"


def ec2_instances(tmp: Path) -> Shape:
    """`aws ec2 describe-instances` as the CLI writes it: one object wrapping reservations,
    tags as Key/Value pairs (one instance untagged, named by its id instead), network
    interfaces (a list of objects, kept as JSON text), and an `Instances` element that is not
    an object (rejected and kept). Records are numbered by their place, from 1."""

    def instance(number: int, tags: dict[str, str] | None) -> dict:
        item = {
            "InstanceId": f"i-{number:017x}",
            "InstanceType": "t3.micro",
            "State": {"Code": 16, "Name": "running"},
            "NetworkInterfaces": [{"NetworkInterfaceId": f"eni-{number}"}],
        }
        if tags is not None:
            item["Tags"] = [{"Key": key, "Value": value} for key, value in tags.items()]
        return item

    web = instance(1, {"Name": "web-1", "Environment": "Production"})
    db = instance(
        2, {"Environment": "Test", "Name": "db-1", "aws:cloudformation:stack-name": "app"}
    )
    untagged = instance(3, None)
    document = {
        "Reservations": [
            {"Groups": [], "Instances": [web, db], "OwnerId": "1234", "ReservationId": "r-1"},
            {"Groups": [], "Instances": [untagged, "not an instance"], "OwnerId": "1234"},
        ]
    }
    path = tmp / "describe-instances.json"
    path.write_text(json.dumps(document, indent=4), encoding="utf-8")
    spec = {
        "mappings": {"Tags.Name": "name", "InstanceId": "name", "InstanceType": "instance_type",
                     "Tags.Environment": "environment"},
        "constants": {"asset_type": "virtual_machine", "environment": "unknown"},
        "key": ["InstanceId"],  # what identifies an instance; not every one has a Name tag
        "records_path": EC2_RECORDS_PATH,
    }  # fmt: skip

    def cells(item: dict, tags: dict[str, str]) -> dict[str, str]:
        return {
            "InstanceId": item["InstanceId"], "InstanceType": "t3.micro", "State.Code": "16",
            "State.Name": "running", "NetworkInterfaces": json.dumps(item["NetworkInterfaces"]),
            **{f"Tags.{key}": value for key, value in tags.items()},
        }  # fmt: skip

    loaded = {
        1: cells(web, {"Name": "web-1", "Environment": "Production"}),
        2: cells(
            db, {"Environment": "Test", "Name": "db-1", "aws:cloudformation:stack-name": "app"}
        ),
        3: cells(untagged, {}),
    }
    rejected = {4: "is a JSON str, not an object"}
    return Shape(path, spec, loaded, rejected, "utf-8", records_path=EC2_RECORDS_PATH)


def _cache_formula_result(path: Path, member: str, formula: str, value: str) -> None:
    """Give a formula the cached result Excel would have saved (openpyxl writes none)."""
    with zipfile.ZipFile(path) as source:
        contents = {name: source.read(name) for name in source.namelist()}
    xml = contents[member].decode()
    contents[member] = re.sub(
        rf"<f>{re.escape(formula)}</f><v\s*/>", f"<f>{formula}</f><v>{value}</v>", xml
    ).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in contents.items():
            target.writestr(name, data)


SHAPES = {
    builder.__name__: builder
    for builder in (
        windows_1252_semicolon,
        utf16_tab,
        sep_line,
        decimal_commas,
        header_case,
        json_array,
        jsonl_bom_broken,
        nested_json,
        messy_workbook,
        ec2_instances,
    )
}
