"""The check's rehearsal: registered, loaded and cleansed in one transaction that never
commits, whatever the file turns out to be."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from wiring_pipeline.db.import_check import CheckedFileUnreadable, check_import
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.pipeline_helpers import dump_tables

KEY = "acme.rehearsal"
SPEC = {
    "mappings": {"Name": "name"},
    "constants": {"asset_type": "server", "environment": "production"},
}


@pytest.fixture()
def flow(engine: Engine) -> dict:
    return make_flow(engine, make_tenant(engine, KEY), mappings=SPEC, flow_name="api")


def test_the_outcome_counts_rows_and_problems_as_they_are_said(engine, flow, tmp_path):
    path = tmp_path / "servers.jsonl"
    path.write_text('{"Name": "a"}\n{"Name": "a"}\n[1]\n{"Name": "b"}\n', encoding="utf-8")
    said = []
    outcome = check_import(engine, KEY, "api", path, on_problem=said.append)
    assert [(p.row, p.code) for p in said] == [(2, "duplicate_key"), (3, "not_an_object")]
    assert (outcome.rows, outcome.rejected_rows, outcome.problems) == (4, 2, 2)
    assert not outcome.complete


def test_a_file_unreadable_past_what_import_reads_is_bad_input_and_leaves_nothing(
    engine, flow, tmp_path
):
    records = ", ".join(json.dumps({"Name": f"srv-{i}"}) for i in range(1500))
    path = tmp_path / "servers.json"
    path.write_text(f'[{records}, {{"Name": ]', encoding="utf-8")
    errors = tmp_path / "errors.jsonl"
    before = dump_tables(engine)
    with pytest.raises(CheckedFileUnreadable, match="servers.json: not a readable JSON array"):
        check_import(engine, KEY, "api", path, on_problem=print, errors_path=errors)
    assert dump_tables(engine) == before
    assert not errors.exists()
