"""Loading import files: every format, the messy rows, the files that cannot be read.

Row numbers are the file's own (DESIGN 3d): the CSV line a record starts on (the header is
line 1), the spreadsheet row, the line of JSON Lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, text

from wiring_pipeline.db.import_loading import load_pending_imports
from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.domain.ingest import loading
from wiring_pipeline.domain.ingest.loading import MAX_CELL_CHARS, pending_imports
from wiring_pipeline.domain.ingest.registry import RegistryError
from wiring_pipeline_tests.support.factories import (
    NAME_ONLY,
    make_flow,
    make_name_only_tenant,
    make_tenant,
)
from wiring_pipeline_tests.support.failing_readers import fail_after
from wiring_pipeline_tests.support.loaded_rows import import_row, raw_rows, rejected
from wiring_pipeline_tests.support.pipeline_helpers import register

KEY = "acme.loading"


@pytest.fixture()
def tenant(engine: Engine):
    return make_name_only_tenant(engine, KEY)


def load(engine: Engine):
    with partition_transaction(engine, KEY) as work:
        return load_pending_imports(work.conn, work.scope)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bom_comma.csv", b'\xef\xbb\xbfName,Env\r\nweb-1,Production\r\n"db, 2",Test\r\n'),
        ("semicolon.csv", b'Name;Env\nweb-1;Production\n"db, 2";Test\n'),
        ("tabs.tsv", b"Name\tEnv\nweb-1\tProduction\ndb, 2\tTest\n"),
    ],
)
def test_csv_encodings_and_delimiters(engine, tenant, tmp_path, name, content):
    scope, flow = tenant
    path = tmp_path / name
    path.write_bytes(content)
    data_import = register(engine, scope, flow, path)
    [result] = load(engine)
    assert (result.status, result.loaded_rows, result.rejected_rows) == ("loaded", 2, 0)
    assert raw_rows(engine, data_import["id"]) == [
        (2, {"Name": "web-1", "Env": "Production"}),
        (3, {"Name": "db, 2", "Env": "Test"}),
    ]
    stored = import_row(engine, data_import["id"])
    assert (stored.status, stored.loaded_rows, stored.rejected_rows, stored.total_records) == (
        "loaded",
        2,
        0,
        2,
    )
    assert stored.loaded_at is not None


def test_messy_csv_rows_are_loaded_or_kept_with_their_reason(engine, tenant, tmp_path):
    scope, flow = tenant
    oversize = "x" * (MAX_CELL_CHARS + 1)
    content = (
        b"Name,Env,Notes\n"  # line 1
        b'  web-1 ,  PRODUCTION ,"two\nlines"\n'  # 2-3: whitespace, case, embedded newline
        b"\n"  # 4: a blank line is not a row
        b"db-2,,\n"  # 5: blank cells
        b"db-2,,\n"  # 6: a duplicate is its own row
        b"too,many,fields,here\n"  # 7: wrong column count
        b"bad-\xff\xfe,Test,x\n"  # 8: undecodable bytes
        + f"big,Test,{oversize}\n".encode()  # 9: oversize cell
        + b"last,Dev,ok\n"  # 10
    )
    path = tmp_path / "messy.csv"
    path.write_bytes(content)
    # Said to be UTF-8, the file has a row that is not: that row alone is rejected.
    data_import = register(engine, scope, flow, path, encoding="utf-8")
    [result] = load(engine)
    assert (result.loaded_rows, result.rejected_rows) == (4, 3)
    rows = raw_rows(engine, data_import["id"])
    assert rows == [
        (2, {"Name": "  web-1 ", "Env": "  PRODUCTION ", "Notes": "two\nlines"}),
        (5, {"Name": "db-2", "Env": "", "Notes": ""}),
        (6, {"Name": "db-2", "Env": "", "Notes": ""}),
        (10, {"Name": "last", "Env": "Dev", "Notes": "ok"}),
    ]
    kept = rejected(engine, data_import["id"])  # each at its line in the file
    assert [(n, reason) for n, reason, _ in kept] == [
        (7, "row has 4 fields, the header has 3"),
        (8, "cell 'Name' has bytes that are not UTF-8"),
        (
            9,
            f"cell 'Notes' is {MAX_CELL_CHARS + 1} characters long, over the "
            f"{MAX_CELL_CHARS}-character limit",
        ),
    ]
    assert kept[0][2] == "too,many,fields,here"
    assert kept[1][2] == "bad-\\xff\\xfe,Test,x"  # the bad bytes, shown, not lost
    assert kept[2][2].startswith("big,Test,xxx")
    assert import_row(engine, data_import["id"]).total_records == 7


def test_jsonl_rows_and_bad_lines(engine, tenant, tmp_path):
    scope, flow = tenant
    path = tmp_path / "export.jsonl"
    path.write_bytes(
        b'{"Name": "web-1", "Cores": 4, "Memory": 16.0, "Up": true, "Tags": null}\n'
        b"\n"
        b"{not json\n"
        b"[1, 2]\n"
        b'{"Name": "db-\xff"}\n'
        b'{"Name": "db-2", "Extra": {"a": 1}}\n'
    )
    data_import = register(engine, scope, flow, path, encoding="utf-8")
    [result] = load(engine)
    assert (result.loaded_rows, result.rejected_rows) == (2, 3)
    assert raw_rows(engine, data_import["id"]) == [  # each at its line: line 2 is blank
        (1, {"Name": "web-1", "Cores": "4", "Memory": "16", "Up": "true", "Tags": ""}),
        (6, {"Name": "db-2", "Extra.a": "1"}),
    ]
    reasons = [(n, reason.split(":")[0]) for n, reason, _ in rejected(engine, data_import["id"])]
    assert reasons == [
        (3, "is not valid JSON"),
        (4, "is a JSON list, not an object"),
        (5, "cell 'Name' has bytes that are not UTF-8"),
    ]


def _workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def test_xlsx_named_sheet_or_the_visible_one_with_the_mapped_columns(engine, tenant, tmp_path):
    scope, flow = tenant
    path = _workbook(
        tmp_path / "export.xlsx",
        {
            "Notes": [["Remark"], ["not the data"]],
            "CMDB Export": [
                ["Name", "Cores", "Env"],
                ["web-1", 4, " Production "],
                [None, None, None],  # an empty row is not a row
                ["db-2", 2.0, None],
                ["three", 1, "Test", "in an unnamed column"],  # ignored with its column
            ],
        },
    )
    named = register(engine, scope, flow, path, sheet_name="CMDB Export")
    chosen = register(engine, scope, flow, path)
    assert chosen["sheet_name"] == "CMDB Export"
    results = {r.data_import_id: r for r in load(engine)}
    for data_import in (named, chosen):
        result = results[data_import["id"]]
        assert (result.loaded_rows, result.rejected_rows) == (3, 0)
        assert raw_rows(engine, data_import["id"]) == [  # spreadsheet rows: row 3 is empty
            (2, {"Name": "web-1", "Cores": "4", "Env": " Production "}),
            (4, {"Name": "db-2", "Cores": "2", "Env": ""}),
            (5, {"Name": "three", "Cores": "1", "Env": "Test"}),
        ]


@pytest.mark.parametrize(
    ("name", "content", "options", "fragment"),
    [
        ("picture.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", {}, "not a text file"),
        ("empty.csv", b"", {}, "the file is empty or has no header row"),
        ("broken.xlsx", b"PK\x03\x04 not really a workbook", {}, "not a readable .xlsx workbook"),
        (
            "sheets.xlsx",
            None,
            {"sheet_name": "Nope"},
            "no worksheet 'Nope' (the workbook has: Data",
        ),
        (
            "garbage.jsonl",
            b"this is not json\nneither is this\n",
            {},
            "not a JSON file of objects: row 1",
        ),
        ("other.csv", b"Host,Env\nx,y\n", {}, "mapped column 'Name' is not in the header"),
        (
            "wrapper.json",
            b'{"Reservations": [{"Instances": [{"InstanceId": "i-1", "Type": "t3"}]}]}',
            {},
            "one JSON object, not a list of records; its top-level key(s) 'Reservations' hold"
            " lists of objects: give the flow a records path such as 'Reservations[].Instances[]'",
        ),
        ("codec.csv", b"Name\nx\n", {"encoding": "klingon"}, "unknown encoding 'klingon'"),
    ],
)
def test_files_that_cannot_be_loaded_are_refused_at_import(
    engine, tenant, tmp_path, name, content, options, fragment
):
    scope, flow = tenant
    path = tmp_path / name
    if content is None:
        _workbook(path, {"Data": [["Name"], ["x"]]})
    else:
        path.write_bytes(content)
    with pytest.raises(RegistryError) as refused:
        register(engine, scope, flow, path, **options)
    assert fragment in str(refused.value) and "\n" not in str(refused.value)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM migration.data_imports")).scalar() == 0
    assert not (tmp_path / "imports").exists() or not any((tmp_path / "imports").rglob("*.*"))


def test_a_stored_file_that_turns_unreadable_fails_its_import_and_loads_nothing(
    engine, tenant, tmp_path
):
    scope, flow = tenant
    registered = {}
    for number, name in enumerate(("missing.csv", "broken.csv", "good.csv")):
        path = tmp_path / name  # three exports (an identical file would be a duplicate)
        path.write_text(f"Name,Env\nweb-{number},Production\n", encoding="utf-8")
        registered[name] = register(engine, scope, flow, path)
    Path(registered["missing.csv"]["stored_path"]).unlink()
    Path(registered["broken.csv"]["stored_path"]).write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")

    results = {r.filename: r for r in load(engine)}

    assert results["good.csv"].status == "loaded" and results["good.csv"].loaded_rows == 1
    for name, fragment in {
        "missing.csv": "is missing",
        "broken.csv": "the header is not readable text",
    }.items():
        stored = import_row(engine, registered[name]["id"])
        assert results[name].status == stored.status == "failed", name
        assert fragment in stored.error and stored.error.startswith(name), stored.error
        assert raw_rows(engine, registered[name]["id"]) == []
        assert rejected(engine, registered[name]["id"]) == []


def test_a_file_is_loaded_once(engine, tenant, tmp_path):
    scope, flow = tenant
    path = tmp_path / "once.csv"
    path.write_text("Name,Env\nweb-1,Production\n", encoding="utf-8")
    data_import = register(engine, scope, flow, path)
    assert [r.loaded_rows for r in load(engine)] == [1]
    assert load(engine) == []
    assert len(raw_rows(engine, data_import["id"])) == 1


def test_batches_cut_by_size_lose_and_repeat_no_row(engine, tenant, tmp_path, monkeypatch):
    """Wide rows of long cells are sent in batches of a few megabytes, not of 5 000 rows."""
    monkeypatch.setattr(loading, "COPY_BATCH_BYTES", 1_000)
    scope, flow = tenant
    path = tmp_path / "wide.csv"
    path.write_text(
        "Name,Env\n" + "".join(f"web-{n},{'x' * 300}\n" for n in range(50)), encoding="utf-8"
    )
    data_import = register(engine, scope, flow, path)
    assert [r.loaded_rows for r in load(engine)] == [50]
    assert sorted(n for n, _ in raw_rows(engine, data_import["id"])) == list(range(2, 52))


def test_pending_imports_by_partition(engine, tenant, tmp_path):
    scope, flow = tenant
    other = make_tenant(engine, "globex.loading")
    path = tmp_path / "p.csv"
    path.write_text("Name\nx\n", encoding="utf-8")
    first = register(engine, scope, flow, path)
    second = register(engine, other, make_flow(engine, other, mappings=NAME_ONLY), path)
    with engine.connect() as conn:
        assert pending_imports(conn) == [(KEY, first["id"]), ("globex.loading", second["id"])]
    load(engine)
    with engine.connect() as conn:
        assert pending_imports(conn) == [("globex.loading", second["id"])]


def test_raw_data_is_one_json_object_per_row(engine, tenant, tmp_path):
    scope, flow = tenant
    path = tmp_path / "quotes.csv"
    path.write_text('Name,Note\n"a\\b","say ""hi""\ttab"\n', encoding="utf-8")
    data_import = register(engine, scope, flow, path)
    load(engine)
    [(_, data)] = raw_rows(engine, data_import["id"])
    assert json.dumps(data, sort_keys=True) == json.dumps(
        {"Name": "a\\b", "Note": 'say "hi"\ttab'}, sort_keys=True
    )


def test_a_reader_failure_of_any_kind_fails_only_its_import(engine, tenant, tmp_path, monkeypatch):
    """DESIGN 3f: whatever a reader meets, wherever in the file, that import fails with its
    reason and the partition's other imports still load (a RecursionError used to roll the
    whole load back and leave every import pending); `import` says it in one line."""
    scope, flow = tenant
    registered = {}
    for number, name in enumerate(("deep.csv", "good.csv")):
        path = tmp_path / name
        rows = "".join(f"web-{number}-{i},Production\n" for i in range(5))
        path.write_text("Name,Env\n" + rows, encoding="utf-8")
        registered[name] = register(engine, scope, flow, path)
    fail_after(monkeypatch, "deep.csv", 3, RecursionError("maximum recursion depth exceeded"))
    results = {r.filename: r for r in load(engine)}

    assert (results["good.csv"].status, results["good.csv"].loaded_rows) == ("loaded", 5)
    failed = import_row(engine, registered["deep.csv"]["id"])
    assert results["deep.csv"].status == failed.status == "failed"
    reason = "deep.csv: could not be read (RecursionError: maximum recursion depth exceeded)"
    assert failed.error == reason
    assert raw_rows(engine, registered["deep.csv"]["id"]) == []
    again = tmp_path / "again" / "deep.csv"
    again.parent.mkdir()
    again.write_text("Name,Env\n" + "".join(f"x-{i},Dev\n" for i in range(5)), encoding="utf-8")
    with pytest.raises(RegistryError) as refused:
        register(engine, scope, flow, again)
    assert str(refused.value) == reason
