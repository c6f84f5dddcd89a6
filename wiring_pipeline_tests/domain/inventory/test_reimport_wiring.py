"""The wiring with history (DESIGN 3a): superseded records are not one-way links, their link
is a tenant-scoped foreign key, and the backfill leaves them alone."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from wiring_pipeline.db.backfill_runs import run_backfill
from wiring_pipeline.domain.contract import constraints
from wiring_pipeline.domain.contract.links import RAW_IMPORT_REF
from wiring_pipeline.domain.health.measure import measure_wiring_health
from wiring_pipeline_tests.support import reimport_data as data
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.legacy_fixture import drop_foreign_keys
from wiring_pipeline_tests.support.pipeline_helpers import dump_tables, run_stages

KEY = "acme.history"
OTHER_KEY = "globex.history"


@pytest.fixture()
def two_weeks(engine: Engine, tmp_path: Path):
    """Week 1 and week 2 imported in KEY; week 1 alone in OTHER_KEY."""
    scopes = {}
    for key, weeks in ((KEY, (data.week_one(), data.week_two())), (OTHER_KEY, (data.week_one(),))):
        scope = make_tenant(engine, key)
        flow = make_flow(engine, scope, mappings=data.MAPPINGS)
        for number, rows in enumerate(weeks, start=1):
            path = data.write(tmp_path / f"{key}-w{number}.csv", rows)
            data.register(engine, scope, flow, path)
            run_stages(engine, key)
        scopes[key] = scope
    yield scopes
    drop_foreign_keys(engine)


def metrics(engine: Engine, scope) -> dict[str, int]:
    with engine.connect() as conn:
        return measure_wiring_health(conn, scope).metrics


def superseded_record(engine: Engine) -> tuple[uuid.UUID, uuid.UUID]:
    """A superseded record of KEY and its asset."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT id, asset_id FROM migration.raw_import_records"
                " WHERE superseded_by IS NOT NULL ORDER BY row_number LIMIT 1"
            )
        ).one()
    return row.id, row.asset_id


def test_asymmetric_links_still_count_what_history_does_not_explain(engine, two_weeks):
    scope = two_weeks[KEY]
    assert set(metrics(engine, scope).values()) == {0}
    record_id, asset_id = superseded_record(engine)
    with engine.begin() as conn:
        # The same record, no longer superseded: a record pointing at an asset whose current
        # record is another one, which is a one-way link.
        conn.execute(
            text("UPDATE migration.raw_import_records SET superseded_by = NULL WHERE id = :id"),
            {"id": record_id},
        )
    assert metrics(engine, scope)["asymmetric_links"] == 1
    with engine.begin() as conn:
        other_asset = conn.execute(
            text(
                "SELECT id FROM migration.assets WHERE engagement_id = :engagement_id"
                " AND id <> :asset ORDER BY name LIMIT 1"
            ),
            {**scope.as_params(), "asset": asset_id},
        ).scalar_one()
        # Superseded again, but pointing at another asset than its successor's: still one-way.
        conn.execute(
            text(
                """
                UPDATE migration.raw_import_records r
                SET superseded_by = a.raw_import_records_id, asset_id = :other
                FROM migration.assets a WHERE a.id = :asset AND r.id = :id
                """
            ),
            {"id": record_id, "asset": asset_id, "other": other_asset},
        )
    assert metrics(engine, scope)["asymmetric_links"] == 1


def test_superseded_by_is_a_tenant_scoped_foreign_key(engine, two_weeks):
    with engine.begin() as conn:
        for fk in constraints.FOREIGN_KEYS:
            constraints.add_foreign_key(conn, fk)
        assert constraints.orphans_by_partition(conn) == {}
        for fk in constraints.FOREIGN_KEYS:
            constraints.validate_foreign_key(conn, fk)
        assert set(constraints.constraint_states(conn).values()) == {"validated"}
    record_id, _ = superseded_record(engine)
    with (
        pytest.raises(IntegrityError, match="fk_raw_import_records_superseded_by"),
        engine.begin() as conn,
    ):
        conn.execute(
            text(
                """
                UPDATE migration.raw_import_records SET superseded_by = (
                    SELECT id FROM migration.raw_import_records
                    WHERE engagement_id = :other ORDER BY row_number LIMIT 1)
                WHERE id = :id
                """
            ),
            {"other": two_weeks[OTHER_KEY].engagement_id, "id": record_id},
        )


def test_an_orphan_superseded_by_is_cleared_by_the_backfill(engine, two_weeks):
    record_id, _ = superseded_record(engine)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE migration.raw_import_records SET superseded_by = :x WHERE id = :id"),
            {"x": uuid.uuid4(), "id": record_id},
        )
        assert constraints.orphans_by_partition(conn) == {
            KEY: {"fk_raw_import_records_superseded_by": 1}
        }
    report = run_backfill(engine, KEY, uuid.uuid4().hex, dry_run=False)
    assert report.tally.repairs["clear_orphan_superseded_by"] == 1
    assert report.tally.changed_rows == 1
    with engine.connect() as conn:
        assert constraints.orphans_by_partition(conn) == {}
        cleared = conn.execute(
            text("SELECT superseded_by FROM migration.raw_import_records WHERE id = :id"),
            {"id": record_id},
        ).scalar_one()
    assert cleared is None


def test_the_backfill_never_repairs_superseded_records(engine, two_weeks):
    before = dump_tables(engine, ["assets", "raw_import_records"])
    report = run_backfill(engine, KEY, uuid.uuid4().hex, dry_run=False)
    assert report.tally.changed_rows == 0
    assert set(report.tally.unrepairable.values()) == {0}
    assert dump_tables(engine, ["assets", "raw_import_records"]) == before
    with engine.begin() as conn:  # the current record of an updated asset is lost
        conn.execute(
            text(
                """
                UPDATE migration.assets a SET raw_import_records_id = NULL
                WHERE a.id = (SELECT asset_id FROM migration.raw_import_records
                              WHERE superseded_by IS NOT NULL ORDER BY row_number LIMIT 1)
                """
            )
        )
    report = run_backfill(engine, KEY, uuid.uuid4().hex, dry_run=True)
    # Its new record alone claims it: linked back to that one, never to the superseded one.
    assert report.tally.repairs[RAW_IMPORT_REF.complete_repair] == 1
    [sample] = report.tally.samples[RAW_IMPORT_REF.complete_repair]
    with engine.connect() as conn:
        claimed = conn.execute(
            text("SELECT superseded_by FROM migration.raw_import_records WHERE id = :id"),
            {"id": sample["changes"]["raw_import_records_id"]["new"]},
        ).scalar_one()
    assert claimed is None
