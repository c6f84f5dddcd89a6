"""Each import loads inside a savepoint: a file unreadable half-way is rolled back to it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from wiring_pipeline.db.import_loading import load_pending_imports
from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.domain.ingest import sources
from wiring_pipeline_tests.support.factories import make_name_only_tenant
from wiring_pipeline_tests.support.failing_readers import fail_after
from wiring_pipeline_tests.support.loaded_rows import import_row, raw_rows
from wiring_pipeline_tests.support.pipeline_helpers import register
from wiring_pipeline_tests.support.table_counters import pending_writes

KEY = "acme.savepoints"


@pytest.fixture()
def tenant(engine: Engine):
    return make_name_only_tenant(engine, KEY)


def test_a_file_unreadable_half_way_is_rolled_back_not_deleted(
    engine, tenant, tmp_path, monkeypatch
):
    """Its streamed rows go with its savepoint, and no row is deleted: a delete would check
    each foreign key that may name a raw record once per row, and `asset_sources` has no
    index on its record (its refresh stays HOT), so each check would scan the partition.
    The import before it and the one after it load."""
    scope, flow = tenant
    registered = {}
    for name in ("before.csv", "half.csv", "after.csv"):
        path = tmp_path / name
        rows = "".join(f"{name}-{i},Dev\n" for i in range(6))
        path.write_text("Name,Env\n" + rows, encoding="utf-8")
        registered[name] = register(engine, scope, flow, path)
    unreadable = sources.UnreadableFileError("half.csv: line 7 is not readable text")
    fail_after(monkeypatch, "half.csv", 5, unreadable)

    with partition_transaction(engine, KEY) as work:
        before = pending_writes(work.conn, "raw_import_records")
        results = {r.filename: r for r in load_pending_imports(work.conn, work.scope)}
        after = pending_writes(work.conn, "raw_import_records")

    assert [results[n].status for n in registered] == ["loaded", "failed", "loaded"]
    assert [results[n].loaded_rows for n in registered] == [6, 0, 6]
    failed = import_row(engine, registered["half.csv"]["id"])
    assert failed.status == "failed" and failed.error == "half.csv: line 7 is not readable text"
    assert raw_rows(engine, registered["half.csv"]["id"]) == []
    assert len(raw_rows(engine, registered["after.csv"]["id"])) == 6
    # The failed file's five rows were written, then rolled back: none deleted.
    assert (after.n_tup_ins - before.n_tup_ins, after.n_tup_del - before.n_tup_del) == (17, 0)
