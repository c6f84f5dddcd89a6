"""Reading an import's stored verdicts back as problems: the declared reasons against the
readers' and the cleansing's own texts, and the problems of an import a run loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.domain.contract.flow_spec import spec_of
from wiring_pipeline.domain.ingest import import_check
from wiring_pipeline.domain.ingest.sources import SourceOptions, open_source
from wiring_pipeline.domain.ingest.sources.limits import JSON_DEPTH
from wiring_pipeline.domain.ingest.sources.rows import (
    MAX_CELL_CHARS,
    cell_problem,
    make_header,
    row_from_cells,
)
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.pipeline_helpers import register, stage_until_inventory

KEY = "acme.import-check"


def code_and_cell(reason: str, *, at_load: bool = True) -> tuple[str, str | None]:
    kind, found = import_check.reason_of(reason, at_load=at_load)
    cell = found.groupdict().get("cell") if found else None
    return kind.code, cell


def test_the_readers_reasons_have_their_codes_and_columns(tmp_path):
    header = make_header(["Name", "Env's"], "f.csv")
    short = row_from_cells(2, header, ["web-1"], "web-1", "UTF-8").rejection
    assert code_and_cell(short) == ("field_count", None)
    assert code_and_cell(cell_problem({"Env's": "a\x00b"}, "UTF-8")) == (
        "nul_character",
        '"Env\'s"',
    )
    too_long = cell_problem({"Name": "x" * (MAX_CELL_CHARS + 1)}, "UTF-8")
    assert code_and_cell(too_long) == ("cell_too_long", "'Name'")
    assert code_and_cell(cell_problem({"Name": "M\udcfcller"}, "cp1252")) == (
        "undecodable",
        "'Name'",
    )

    path = tmp_path / "rows.jsonl"
    path.write_text('{"Name": "ok"}\nnot json\n[1, 2]\n"text"\n', encoding="utf-8")
    with open_source(path, "rows.jsonl", SourceOptions("jsonl", "utf-8")) as source:
        reasons = [row.rejection for row in source.rows if row.rejection]
    assert [code_and_cell(reason)[0] for reason in reasons] == [
        "invalid_json",
        "not_an_object",
        "not_an_object",
    ]


def test_a_row_past_a_limit_is_over_limit():
    deep = JSON_DEPTH.exceeded(f"nests objects more than {JSON_DEPTH.value} levels deep")
    assert import_check.reason_of(deep, at_load=True)[0].code == "over_limit"


def test_a_reason_nothing_declares_keeps_its_stage():
    assert import_check.reason_of("a reason of tomorrow", at_load=True)[0].code == "unreadable_row"
    assert import_check.reason_of("a reason of tomorrow", at_load=False)[0].code == "rejected"


@pytest.fixture()
def scope(engine: Engine):
    return make_tenant(engine, KEY)


def problems_of(engine: Engine, flow: dict, import_id) -> list[tuple]:
    with partition_transaction(engine, KEY) as work:
        found = import_check.import_problems(work.conn, work.scope, import_id, spec_of(flow))
        return [(p.row, p.column, p.code, p.message, p.rejected) for p in found]


def test_the_problems_of_a_loaded_and_cleansed_import(engine, scope, tmp_path: Path):
    """What a run left is read back as it would be by the check: the column to fill for a
    missing field (an Excel error value said as such), the key column left empty, a value
    left out from the column that gave it (the second of a field's columns)."""
    flow = make_flow(
        engine,
        scope,
        mappings={
            "mappings": {
                "Name": "name",
                "Class": "asset_type",
                "Env": "environment",
                "CPUs": "cpu_cores",
                "vCPUs": "cpu_cores",
            },
        },
        identity_key=["Name", "Rack"],
    )
    path = tmp_path / "servers.csv"
    path.write_text(
        "Name,Class,Env,Rack,CPUs,vCPUs\n"
        "web-1,Server,Production,R1,4,\n"
        "web-2,Server,#N/A,R1,4,\n"
        "web-3,Server,Test,,4,\n"
        "web-4,Server,Test,R2,,four\n"
        ",,Dev,R3,2,\n",
        encoding="utf-8",
    )
    registered = register(engine, scope, flow, path)
    stage_until_inventory(engine, KEY)
    assert problems_of(engine, flow, registered["id"]) == [
        (
            3,
            "Env",
            "missing_field",
            "missing environment: column 'Env' holds '#N/A' (Excel error value)",
            True,
        ),
        (4, "Rack", "missing_key", "missing identity key: no value in 'Rack'", True),
        (5, "vCPUs", "invalid_value", "cpu_cores left out: 'four' (not an integer)", False),
        (6, "Name", "missing_field", "missing name: no value in 'Name'", True),
        (6, "Class", "missing_field", "missing asset_type: no value in 'Class'", True),
    ]
    with partition_transaction(engine, KEY) as work:
        assert import_check.first_row(work.conn, work.scope, registered["id"]) == 2
