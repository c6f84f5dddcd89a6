"""The deliverable is whole and streamed: every inventory field beside the provenance and
the sources, as the database holds it, retired assets on request, formulas neutralised, rows
written out while the partition is still being read, and the sources' disagreements beside
the inventory (a sheet, or a CSV of their own)."""

from __future__ import annotations

import csv
import io
import tracemalloc
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from wiring_pipeline.bench.export_load import seed_export_partition
from wiring_pipeline.domain.contract.fields import INVENTORY_FIELDS
from wiring_pipeline.domain.inventory import export
from wiring_pipeline.domain.inventory.export import (
    CONFLICT_COLUMNS,
    EXPORT_COLUMNS,
    PROVENANCE_COLUMNS,
    Exported,
    ExportError,
    conflict_table,
    export_inventory,
    export_rows,
)
from wiring_pipeline.domain.inventory.export_formats import neutralise_formulas, write_csv
from wiring_pipeline_tests.domain.inventory.test_listing import (
    ASSET_NAMES,
    CONFLICTING_FIELDS,
    SHARED,
    reconciled_partition,
)
from wiring_pipeline_tests.domain.inventory.test_reconcile import vm_row

KEY = "acme.deliverable"


def _seed(engine: Engine, records: int):
    with engine.begin() as conn:
        return seed_export_partition(conn, KEY, records)


def _stored(engine: Engine, scope) -> list[dict]:
    """Every asset's inventory fields as the database holds them, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"""SELECT id::text AS asset_id, {", ".join(INVENTORY_FIELDS)}, current_phase
                    FROM migration.assets
                    WHERE client_account_id = :client_account_id
                      AND engagement_id = :engagement_id
                    ORDER BY created_at, id"""
            ),
            scope.as_params(),
        )
        return [dict(row._mapping) for row in rows]


def _export(engine: Engine, scope, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    with engine.connect() as conn, conn.begin():
        export_inventory(conn, scope, fmt, out, **options)
    return out.getvalue()


def _csv_rows(content: bytes) -> tuple[list[str], list[dict]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM spreadsheets read as UTF-8
    reader = csv.DictReader(io.StringIO(content.decode("utf-8-sig")))
    return list(reader.fieldnames), list(reader)


def _xlsx_rows(content: bytes) -> tuple[list[str], list[dict]]:
    sheet = load_workbook(io.BytesIO(content), read_only=True)["inventory"]
    header, *rows = sheet.iter_rows(values_only=True)
    return list(header), [dict(zip(header, row, strict=True)) for row in rows]


def _as_cell(value, fmt: str):
    """How the database's value reads back from a CSV (text) or an XLSX (typed) cell."""
    if value is None:
        return "" if fmt == "csv" else None
    if fmt == "csv":
        return str(value)
    return float(value) if isinstance(value, Decimal) else value


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_inventory_field_is_exported_with_its_provenance(engine, fmt):
    scope = _seed(engine, 25)
    stored = _stored(engine, scope)
    header, rows = (_csv_rows if fmt == "csv" else _xlsx_rows)(_export(engine, scope, fmt))

    assert header == list(EXPORT_COLUMNS)
    assert header[1 : 1 + len(INVENTORY_FIELDS)] == list(INVENTORY_FIELDS)  # units: memory_gb
    assert set(PROVENANCE_COLUMNS) <= set(header)
    assert [row["asset_id"] for row in rows] == [asset["asset_id"] for asset in stored]
    for row, asset in zip(rows, stored, strict=True):
        for field in INVENTORY_FIELDS:
            assert row[field] == _as_cell(asset[field], fmt), field
    first = rows[0]
    assert first["import_file"] == "bench export.csv" and first["mapping_hash"] == "ab" * 32
    assert first["flow_name"] == f"{KEY} flow" and first["flow_id"] and first["current_record_id"]
    assert {str(row["source_row_number"]) for row in rows} == {str(n) for n in range(1, 26)}
    assert {row["cpu_cores"] for row in rows} == {_as_cell(n % 64 + 1, fmt) for n in range(1, 26)}


def test_retired_assets_only_on_request_and_formulas_neutralised(engine):
    scope = _seed(engine, 4)
    with engine.begin() as conn:
        conn.execute(
            text(
                """UPDATE migration.assets SET current_phase = 'retired'
                   WHERE hostname = 'hostname-1';
                   UPDATE migration.assets
                   SET description = '=HYPERLINK("http://x")', owner = '+1 phone',
                       location = '-12.5', model = '@SUM(A1)'
                   WHERE hostname = 'hostname-2'"""
            )
        )
    for fmt, read in (("csv", _csv_rows), ("xlsx", _xlsx_rows)):
        _, current = read(_export(engine, scope, fmt))
        _, everything = read(_export(engine, scope, fmt, include_retired=True))
        assert sorted(row["hostname"] for row in current) == [f"hostname-{n}" for n in (2, 3, 4)]
        assert sorted(row["hostname"] for row in everything) == [
            f"hostname-{n}" for n in range(1, 5)
        ]
        (risky,) = [row for row in current if row["hostname"] == "hostname-2"]
        assert risky["description"] == '\'=HYPERLINK("http://x")'
        assert (risky["owner"], risky["model"]) == ("'+1 phone", "'@SUM(A1)")
        assert risky["location"] in ("-12.5", -12.5)  # a plain number stays as it is


def test_a_control_character_cannot_break_the_spreadsheet(engine):
    scope = _seed(engine, 1)
    with engine.begin() as conn:
        conn.execute(text("UPDATE migration.assets SET description = 'rack\x07 4'"))
    _, (row,) = _xlsx_rows(_export(engine, scope, "xlsx"))
    assert row["description"] == "rack\ufffd 4"
    _, (row,) = _csv_rows(_export(engine, scope, "csv"))
    assert row["description"] == "rack\x07 4"  # the CSV keeps what the source had


def test_too_many_assets_for_a_sheet_is_refused_before_a_row_is_written(engine, monkeypatch):
    scope = _seed(engine, 3)
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 2)
    out = io.BytesIO()
    with engine.connect() as conn, conn.begin(), pytest.raises(ExportError, match="export as csv"):
        export_inventory(conn, scope, "xlsx", out)
    assert out.getvalue() == b""
    with pytest.raises(ExportError, match="unknown export format 'pdf'"):
        export_inventory(None, scope, "pdf", out)


def test_rows_come_from_an_open_cursor_a_batch_at_a_time(engine):
    scope = _seed(engine, 300)
    with engine.connect() as conn, conn.begin():
        rows = export_rows(conn, scope, fetch_size=10)
        first = next(rows)
        # The first row is out while the server still holds the query's cursor: the rest
        # has not been fetched.
        open_cursors = "SELECT count(*) FROM pg_cursors"
        assert conn.execute(text(open_cursors)).scalar_one() == 1
        assert first[EXPORT_COLUMNS.index("source_row_number")] == 1
        assert sum(1 for _ in rows) == 299
        assert conn.execute(text(open_cursors)).scalar_one() == 0


class _FirstWrite(io.RawIOBase):
    """A sink that notes how many rows had been produced when its first bytes arrived."""

    def __init__(self, produced: list[int]) -> None:
        self.produced = produced
        self.at_first_write: int | None = None
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self.at_first_write is None:
            self.at_first_write = self.produced[0]
        self.size += len(data)
        return len(data)


def test_the_csv_writer_writes_rows_as_they_come():
    produced = [0]
    total = 50_000

    def rows():
        for n in range(total):
            produced[0] += 1
            yield [n, f"server-{n}", "=risky"]

    sink = _FirstWrite(produced)
    assert write_csv(("n", "name", "note"), rows(), sink) == total
    assert sink.at_first_write is not None and sink.at_first_write < total // 10
    assert neutralise_formulas([1, "=x", None, "-3", "-x"]) == [1, "'=x", None, "-3", "'-x"]


def _traced_peak(engine: Engine, scope) -> tuple[int, int]:
    """What Python allocated at its peak while exporting the partition, and the file's size."""
    with engine.connect() as conn, conn.begin():
        sink = _FirstWrite([0])
        tracemalloc.start()
        try:
            export_inventory(conn, scope, "csv", sink, fetch_size=200)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return peak, sink.size


def test_memory_does_not_grow_with_the_partition(engine):
    """Ten times the assets, the same memory: traced allocations (no timing, no other
    process involved) of exporting 2 000 and then 20 000 assets, against the file's size."""
    small_peak, small_size = _traced_peak(engine, _seed(engine, 2_000))
    with engine.begin() as conn:
        big = seed_export_partition(conn, "acme.deliverable-big", 20_000)
    peak, size = _traced_peak(engine, big)
    assert size > 9 * small_size
    assert peak < 2 * small_peak, (small_peak, peak)
    assert peak < size / 10, (peak, size)


# --- several sources of one machine (DESIGN 3e) -------------------------------------------


def _by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in rows}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_each_row_names_its_sources_and_how_they_joined(engine, tmp_path, fmt):
    made = reconciled_partition(engine, tmp_path, KEY)
    header, rows = (_csv_rows if fmt == "csv" else _xlsx_rows)(_export(engine, made.scope, fmt))
    assert header[-4:] == ["sources", "matched_on", "created_at_utc", "updated_at_utc"]
    exported = _by_name(rows)
    assert sorted(exported) == sorted(ASSET_NAMES)
    empty = _as_cell(None, fmt)
    assert (exported[SHARED]["sources"], exported[SHARED]["matched_on"]) == (
        "cmdb; rvtools",
        "ip_address",
    )
    assert (exported["vm-only"]["sources"], exported["vm-only"]["matched_on"]) == (
        "rvtools",
        empty,
    )
    assert exported[SHARED]["flow_name"] == "cmdb"  # the primary source


def test_a_source_that_dropped_the_machine_is_marked_retired(engine, tmp_path):
    made = reconciled_partition(engine, tmp_path, KEY)
    made.load(engine, tmp_path, made.rvtools, "week2.csv", [vm_row("vm-only")])
    _, rows = _csv_rows(_export(engine, made.scope, "csv", include_retired=True))
    exported = _by_name(rows)
    assert exported[SHARED]["sources"] == "cmdb; rvtools (retired)"
    assert exported[SHARED]["matched_on"] == "ip_address"
    assert exported["clone-of-web01"]["current_phase"] == "retired"
    assert exported["clone-of-web01"]["sources"] == "rvtools (retired)"


def _conflicts_of(engine, scope, fmt: str) -> tuple[list[str], list[dict]]:
    if fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(_export(engine, scope, "xlsx")), read_only=True)
        header, *rows = sheet["conflicts"].iter_rows(values_only=True)
        return list(header), [dict(zip(header, row, strict=True)) for row in rows]
    out, beside = io.BytesIO(), io.BytesIO()
    with engine.connect() as conn, conn.begin():
        exported = export_inventory(conn, scope, "csv", out, conflicts_out=beside)
    header, rows = _csv_rows(beside.getvalue())
    assert exported.conflicts == len(rows)
    return header, rows


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_conflicts_go_beside_the_inventory_one_column_per_source(engine, tmp_path, fmt):
    made = reconciled_partition(engine, tmp_path, KEY)
    header, rows = _conflicts_of(engine, made.scope, fmt)
    assert header == [*CONFLICT_COLUMNS, "cmdb value", "rvtools value"]
    assert len(_csv_rows(_export(engine, made.scope, "csv"))[1]) == len(ASSET_NAMES)
    assert [(row["asset_name"], row["field"]) for row in rows] == [
        (SHARED, field) for field in CONFLICTING_FIELDS
    ]
    memory = next(row for row in rows if row["field"] == "memory_gb")
    # The hypervisor wins the memory by its per-field precedence; the CMDB said 16 GiB.
    expected = {"chosen_source": "rvtools", "chosen_value": 12, "cmdb value": 16}
    expected["rvtools value"] = 12
    if fmt == "csv":
        expected = {k: str(v) for k, v in expected.items()}
    assert {k: memory[k] for k in expected} == expected
    with engine.connect() as conn:
        asset_id = conn.execute(
            text("SELECT id::text FROM migration.assets WHERE name = :n"), {"n": SHARED}
        ).scalar_one()
    assert {row["asset_id"] for row in rows} == {asset_id}


def test_a_partition_without_conflicts_still_gets_its_conflicts_header(engine):
    scope = _seed(engine, 3)
    for fmt in ("csv", "xlsx"):
        assert _conflicts_of(engine, scope, fmt) == (list(CONFLICT_COLUMNS), [])
    out = io.BytesIO()
    with engine.connect() as conn, conn.begin():  # a CSV given nowhere to put them
        assert export_inventory(conn, scope, "csv", out) == Exported(3, None)


def test_conflicts_of_a_retired_asset_only_with_it(engine, tmp_path):
    made = reconciled_partition(engine, tmp_path, KEY)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE migration.assets SET current_phase = 'retired' WHERE name = :n"),
            {"n": SHARED},
        )
    out, beside = io.BytesIO(), io.BytesIO()
    for include_retired, expected in ((False, 0), (True, len(CONFLICTING_FIELDS))):
        with engine.connect() as conn, conn.begin():
            exported = export_inventory(
                conn, made.scope, "csv", out, conflicts_out=beside, include_retired=include_retired
            )
        assert exported.conflicts == expected


def test_conflict_values_that_look_like_formulas_are_neutralised(engine, tmp_path):
    made = reconciled_partition(engine, tmp_path, KEY)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE migration.asset_conflicts SET chosen_value = '\"=1+2\"'::jsonb"
                " WHERE field_name = 'memory_gb'"
            )
        )
    _, rows = _conflicts_of(engine, made.scope, "xlsx")
    assert next(r for r in rows if r["field"] == "memory_gb")["chosen_value"] == "'=1+2"


def test_too_many_conflicts_for_a_sheet_are_refused_before_a_row_is_written(
    engine, tmp_path, monkeypatch
):
    made = reconciled_partition(engine, tmp_path, KEY)
    with engine.begin() as conn:  # every asset's sources disagree on its owner too: 1 + 5
        conn.execute(
            text(
                "INSERT INTO migration.asset_conflicts (client_account_id, engagement_id,"
                " asset_id, field_name, source_values)"
                " SELECT client_account_id, engagement_id, id, 'owner', '{}'::jsonb"
                " FROM migration.assets ON CONFLICT DO NOTHING"
            )
        )
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", len(ASSET_NAMES))  # the assets fit
    out = io.BytesIO()
    with (
        engine.connect() as conn,
        conn.begin(),
        pytest.raises(ExportError, match="^6 conflicts do not fit.*export as csv"),
    ):
        export_inventory(conn, made.scope, "xlsx", out)
    assert out.getvalue() == b""


def test_the_conflicts_come_from_a_cursor_opened_when_they_are_read(engine, tmp_path):
    made = reconciled_partition(engine, tmp_path, KEY)
    open_cursors = text("SELECT count(*) FROM pg_cursors")
    with engine.connect() as conn, conn.begin():
        header, rows = conflict_table(conn, made.scope, fetch_size=1)
        assert conn.execute(open_cursors).scalar_one() == 0  # the header is read, no row yet
        first = next(rows)
        assert dict(zip(header, first, strict=True))["field"] == CONFLICTING_FIELDS[0]
        assert conn.execute(open_cursors).scalar_one() == 1
        assert sum(1 for _ in rows) == len(CONFLICTING_FIELDS) - 1
        assert conn.execute(open_cursors).scalar_one() == 0
