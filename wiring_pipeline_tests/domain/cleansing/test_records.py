"""Cleansing: the flow's mappings applied in SQL, the verdicts in the archive, and the minimal
summary the inventory writes with the link."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from wiring_pipeline.db.import_loading import load_pending_imports
from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.domain.cleansing import records as cleansing
from wiring_pipeline.domain.cleansing.records import cleanse_open_records
from wiring_pipeline.domain.ingest.flows import FlowError
from wiring_pipeline.domain.inventory.build import build_inventory
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.pipeline_helpers import register

KEY = "acme.cleansing"
MAPPINGS = {
    "Asset Name": "name",
    "CI Class": "asset_type",
    "Environment": "environment",
    "CPU Cores": "cpu_cores",
    "Memory (GB)": "memory_gb",
    "Description": "description",
}
HEADER = "Asset Name,CI Class,Environment,CPU Cores,Memory (GB),Description,Support Group\n"


@pytest.fixture()
def loaded(engine: Engine, tmp_path):
    scope = make_tenant(engine, KEY)
    flow = make_flow(engine, scope, mappings=MAPPINGS)
    path = tmp_path / "cmdb.csv"
    path.write_text(
        HEADER
        + '  web   01 ,VIRTUAL   Machine, production ,4,16.5,"two\n  lines",Ops\n'
        + "db-02,Database,Test,four,lots,,DBA\n"
        + "db-03,, Test,2.0,8,,DBA\n"
        + "   ,Server,,1,1,,\n",
        encoding="utf-8",
    )
    register(engine, scope, flow, path)
    with partition_transaction(engine, KEY) as work:
        load_pending_imports(work.conn, work.scope)
    return scope, flow


def cleanse(engine: Engine):
    with partition_transaction(engine, KEY) as work:
        return cleanse_open_records(work.conn, work.scope)


def records(engine: Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(
            text(
                """
                SELECT r.row_number, r.cleansed_data, r.is_processed, r.processed_at,
                       r.processing_notes, r.asset_id, c.cleansed_values
                FROM migration.raw_import_records r
                LEFT JOIN migration.cleansed_record_archive c ON c.raw_import_record_id = r.id
                ORDER BY r.row_number
                """
            )
        ).all()


@pytest.mark.parametrize("sql_json", [True, False], ids=["json_object", "jsonb_build_object"])
def test_values_are_cleansed_by_kind_into_the_archive(engine, loaded, monkeypatch, sql_json):
    # PostgreSQL 16+ builds the values with JSON_OBJECT, older servers another way: same values.
    monkeypatch.setattr(cleansing, "has_sql_json", lambda conn: sql_json)
    result = cleanse(engine)
    assert (result.cleansed, result.rejected, result.without_mappings) == (2, 2, 0)
    rows = records(engine)
    assert rows[0].cleansed_values == {
        "name": "web 01",
        "asset_type": "virtual machine",
        "environment": "production",
        "cpu_cores": 4,
        "memory_gb": 16.5,
        "description": "two lines",
    }
    # Numbers that do not parse are left out and kept aside; the raw record keeps the text.
    assert rows[1].cleansed_values == {
        "name": "db-02",
        "asset_type": "database",
        "environment": "test",
        "_invalid": {
            "cpu_cores": {"value": "four", "reason": "not an integer"},
            "memory_gb": {"value": "lots", "reason": "not a number"},
        },
    }


def archive(engine: Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(
            text(
                """
                SELECT r.row_number, c.verdict, c.field_count, c.has_critical_fields
                FROM migration.cleansed_record_archive c
                JOIN migration.raw_import_records r ON r.id = c.raw_import_record_id
                ORDER BY r.row_number
                """
            )
        ).all()


def test_cleansing_writes_the_verdicts_to_the_archive_and_leaves_the_records(engine, loaded):
    before = [row[:6] for row in records(engine)]
    result = cleanse(engine)
    assert result.rejected_by_reason == {
        "missing critical field(s): asset_type": 1,
        "missing critical field(s): name, environment": 1,
    }
    assert [tuple(row) for row in archive(engine)] == [
        (2, None, 6, True),
        (4, None, 3, True),
        (5, "missing critical field(s): asset_type", 4, False),
        (6, "missing critical field(s): name, environment", 3, False),
    ]
    # DESIGN 1: the raw record is written by its load and by its link, never by cleansing.
    assert [row[:6] for row in records(engine)] == before


def test_the_inventory_writes_the_minimal_summary_and_rejects_say_why(engine, loaded):
    cleanse(engine)
    with partition_transaction(engine, KEY) as work:
        result = build_inventory(work.conn, work.scope)
    assert (result.created, result.rejected, result.rejected_now) == (2, 2, 2)
    rows = records(engine)
    for row in rows:
        assert set(row.cleansed_data) == {
            "status",
            "field_count",
            "has_critical_fields",
            "cleansed_at",
        }
        assert row.is_processed and row.processed_at is not None
    assert rows[0].cleansed_data["status"] == "cleansed"
    assert rows[0].cleansed_data["field_count"] == 6
    assert rows[0].cleansed_data["has_critical_fields"] is True
    assert rows[0].asset_id is not None and rows[0].processing_notes.startswith("Linked to: ")
    rejected = rows[2]
    assert rejected.cleansed_data["status"] == "rejected"
    assert rejected.cleansed_data["has_critical_fields"] is False
    assert rejected.asset_id is None
    assert rejected.processing_notes == "Rejected: missing critical field(s): asset_type"
    assert rows[3].processing_notes == "Rejected: missing critical field(s): name, environment"


def test_cleansing_twice_changes_nothing(engine, loaded):
    cleanse(engine)
    before = records(engine)
    again = cleanse(engine)
    assert (again.cleansed, again.rejected) == (0, 0)
    assert records(engine) == before


def test_an_unmapped_critical_field_rejects_every_record(engine, tmp_path):
    """A flow of before DESIGN 3d (no environment mapped): its records are rejected, and a
    new import of it is refused naming the file's closest column."""
    scope = make_tenant(engine, KEY)
    flow = make_flow(engine, scope, mappings=MAPPINGS)
    path = tmp_path / "no_env.csv"
    path.write_text(HEADER + "web-1,Server,Production,1,1,,\n", encoding="utf-8")
    register(engine, scope, flow, path)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE migration.discovery_flows SET field_mappings = :legacy WHERE id = :id"
            ).bindparams(bindparam("legacy", type_=JSONB)),
            {"legacy": {"Asset Name": "name", "CI Class": "asset_type"}, "id": flow["id"]},
        )
    with partition_transaction(engine, KEY) as work:
        load_pending_imports(work.conn, work.scope)
    assert cleanse(engine).rejected_by_reason == {"missing critical field(s): environment": 1}
    legacy = {**flow, "field_mappings": {"Asset Name": "name", "CI Class": "asset_type"}}
    with pytest.raises(FlowError, match="environment \\(closest columns: 'Environment'"):
        register(engine, scope, legacy, path)


def test_legacy_records_of_a_flow_are_cleansed_but_one_way_links_are_left(engine, tmp_path):
    scope = make_tenant(engine, KEY)
    flow = make_flow(engine, scope, mappings=MAPPINGS)
    params = {**scope.as_params(), "flow": flow["id"]}
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                WITH legacy AS (
                    INSERT INTO migration.data_imports
                        (client_account_id, engagement_id, filename, status, discovery_flow_id)
                    VALUES (:client_account_id, :engagement_id, 'legacy.csv', 'loaded', :flow)
                    RETURNING id
                ), raws AS (
                    INSERT INTO migration.raw_import_records
                        (client_account_id, engagement_id, data_import_id, row_number, raw_data)
                    SELECT :client_account_id, :engagement_id, legacy.id, n,
                           jsonb_build_object('Asset Name', 'legacy-' || n,
                                              'CI Class', 'Server', 'Environment', 'DR')
                    FROM legacy, generate_series(1, 2) n
                    RETURNING id, row_number
                )
                INSERT INTO migration.assets
                    (client_account_id, engagement_id, name, raw_import_records_id,
                     discovery_method)
                SELECT :client_account_id, :engagement_id, 'one-way', id, 'flow_based'
                FROM raws WHERE row_number = 2
                """
            ),
            params,
        )
    result = cleanse(engine)
    assert (result.cleansed, result.rejected) == (1, 0)
    rows = records(engine)
    assert rows[0].cleansed_values["environment"] == "dr"
    assert rows[1].cleansed_data is None and not rows[1].is_processed
