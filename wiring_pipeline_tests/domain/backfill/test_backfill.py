"""The backfill against the legacy world: exact counts, exact rows, audited, undoable, and
safe beside a live writer."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import Engine, text

from wiring_pipeline.db import backfill_runs, retry, transactions
from wiring_pipeline.db.backfill_runs import run_backfill, undo_backfill
from wiring_pipeline.db.retry import RetryPolicy
from wiring_pipeline.domain import backfill
from wiring_pipeline.domain.contract import constraints
from wiring_pipeline.domain.core.schema import metadata
from wiring_pipeline_tests.support.defects import BROKEN_KEY, build_defect_world
from wiring_pipeline_tests.support.legacy_fixture import (
    EXPECTED_HEALTH_AFTER,
    EXPECTED_REPAIRS,
    EXPECTED_UNREPAIRABLE,
    MAIN_KEY,
    REPAIRED_CASES,
    build_legacy_world,
    drop_foreign_keys,
    dump,
    metrics,
)


def rows_by_id(engine: Engine, table: str) -> dict[uuid.UUID, str]:
    with engine.connect() as conn:
        return dict(conn.execute(text(f"SELECT id, t::text FROM migration.{table} t")).all())


def changed_ids(before: dict, after: dict) -> set:
    assert before.keys() == after.keys()
    return {key for key in before if before[key] != after[key]}


def masked_dump(engine: Engine) -> dict[str, list[str]]:
    """The repaired tables without the times a repair stamps (`now()` differs per run)."""
    with engine.connect() as conn:
        return {
            "assets": list(
                conn.execute(
                    text(
                        "SELECT (to_jsonb(t) - 'updated_at')::text"
                        " FROM migration.assets t ORDER BY 1"
                    )
                ).scalars()
            ),
            "raw_import_records": list(
                conn.execute(
                    text(
                        "SELECT (to_jsonb(t) - 'processed_at')::text"
                        " || (processed_at IS NULL)::text"
                        " FROM migration.raw_import_records t ORDER BY 1"
                    )
                ).scalars()
            ),
        }


def execute(engine: Engine, key: str = MAIN_KEY, **kwargs) -> backfill_runs.BackfillReport:
    return run_backfill(engine, key, uuid.uuid4().hex, dry_run=False, **kwargs)


@pytest.fixture()
def world(engine: Engine):
    return build_legacy_world(engine)


@pytest.fixture()
def foreign_keys(engine: Engine, world):
    """The three keys, NOT VALID, over the legacy world; dropped again afterwards."""
    with engine.begin() as conn:
        for fk in constraints.FOREIGN_KEYS:
            constraints.add_foreign_key(conn, fk)
    yield
    drop_foreign_keys(engine)


def test_dry_run_counts_exactly_and_changes_nothing(engine, world):
    everything = [t.name for t in metadata.sorted_tables]
    before = dump(engine, everything)

    report = run_backfill(engine, MAIN_KEY, "dry-1", dry_run=True, batch_size=7)

    assert report.tally.repairs == EXPECTED_REPAIRS
    assert report.tally.unrepairable == EXPECTED_UNREPAIRABLE
    main_ids = {str(i) for i in world.ids(*world.cases)}
    for label, samples in report.tally.samples.items():
        assert 0 < len(samples) <= backfill.SAMPLE_LIMIT, label
        assert {s["id"] for s in samples} <= main_ids, label
    assert dump(engine, everything) == before


def test_execute_repairs_exactly_those_rows_and_no_other_partitions(engine, world):
    assets_before = rows_by_id(engine, "assets")
    raws_before = rows_by_id(engine, "raw_import_records")

    report = execute(engine, batch_size=5)

    assert report.tally.repairs == EXPECTED_REPAIRS
    assert report.tally.unrepairable == EXPECTED_UNREPAIRABLE
    changed = changed_ids(assets_before, rows_by_id(engine, "assets")) | changed_ids(
        raws_before, rows_by_id(engine, "raw_import_records")
    )
    assert changed == world.ids(*REPAIRED_CASES)
    assert metrics(engine, MAIN_KEY) == EXPECTED_HEALTH_AFTER

    main_flow = world.main.flows["main"]
    with engine.connect() as conn:
        relinked = conn.execute(
            text(
                "SELECT DISTINCT discovery_flow_id, master_flow_id FROM migration.assets"
                " WHERE id = ANY(:ids)"
            ),
            {"ids": list(world.ids("missing_flow", "foreign_flow_with_legacy_id"))},
        ).all()
        requeued = conn.execute(
            text(
                "SELECT asset_id, is_processed, processed_at, cleansed_data, processing_notes"
                " FROM migration.raw_import_records WHERE id = ANY(:ids)"
            ),
            {"ids": list(world.ids("raw_asset_deleted", "raw_asset_of_rival"))},
        ).all()
        audit = conn.execute(
            text(
                "SELECT count(DISTINCT row_id), count(*) FILTER (WHERE run_id <> :run)"
                " FROM migration.backfill_audit"
            ),
            {"run": report.run_id},
        ).one()
        run = conn.execute(
            text("SELECT counts, finished_at FROM migration.backfill_runs WHERE run_id = :run"),
            {"run": report.run_id},
        ).one()
    # The flow of the same tenant and engagement, never the rival's flow with the same flow_id.
    assert relinked == [(main_flow["id"], main_flow["master_flow_id"])]
    assert {tuple(r) for r in requeued} == {(None, False, None, None, backfill.REQUEUE_NOTE)}
    assert tuple(audit) == (len(changed), 0)
    assert run.counts["repairs"] == EXPECTED_REPAIRS
    assert run.finished_at is not None


def test_rerunning_the_execute_changes_nothing(engine, world):
    execute(engine)
    before = dump(engine)

    again = execute(engine)

    assert again.tally.changed_rows == 0
    assert again.tally.unrepairable == EXPECTED_UNREPAIRABLE
    assert dump(engine) == before


def test_stopped_after_a_batch_then_rerun_ends_as_one_clean_run(engine, world):
    clean = execute(engine, batch_size=4)
    clean_state = masked_dump(engine)
    undo_backfill(engine, clean.run_id)

    class Stop(Exception):
        pass

    def stop_after_first(batch: backfill_runs.Batch) -> None:
        raise Stop

    with pytest.raises(Stop):
        execute(engine, batch_size=4, on_batch=stop_after_first)
    with engine.connect() as conn:
        stopped = conn.execute(
            text("SELECT counts, finished_at FROM migration.backfill_runs WHERE run_id <> :clean"),
            {"clean": clean.run_id},
        ).one()
    assert stopped.finished_at is None and stopped.counts["batches"] == 1

    execute(engine, batch_size=4)

    assert masked_dump(engine) == clean_state
    assert metrics(engine, MAIN_KEY) == EXPECTED_HEALTH_AFTER


def test_undo_restores_the_tables_byte_for_byte(engine, world):
    before = dump(engine)
    report = execute(engine, batch_size=3)
    assert dump(engine) != before

    partition, restored = undo_backfill(engine, report.run_id)

    assert partition == MAIN_KEY
    assert sum(restored.values()) == len(world.ids(*REPAIRED_CASES))
    assert dump(engine) == before
    with pytest.raises(backfill.BackfillError, match="undone already"):
        undo_backfill(engine, report.run_id)
    with pytest.raises(backfill.BackfillError, match="no executed backfill run 'nope'"):
        undo_backfill(engine, "nope")


def test_undo_refuses_to_overwrite_a_later_change(engine, world):
    report = execute(engine)
    changed_asset = next(iter(world.ids("missing_flow")))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE migration.assets SET master_flow_id = NULL WHERE id = :id"),
            {"id": changed_asset},
        )
    before_undo = dump(engine)

    with pytest.raises(backfill.BackfillError, match=str(changed_asset)):
        undo_backfill(engine, report.run_id)

    assert dump(engine) == before_undo


def test_a_writer_inserting_assets_during_a_batch_is_not_blocked_or_lost(
    engine, world, foreign_keys
):
    """While a batch holds the row locks of its changes, a writer (with the foreign keys in
    force) inserts assets, one of them referencing a record the batch has just requeued.
    The writer's lock timeout is the backfill's: had the insert been blocked, it would have
    failed instead of waiting."""
    flow = world.main.flows["main"]
    requeued = next(iter(world.ids("raw_asset_deleted")))
    with transactions.partition_transaction(engine, MAIN_KEY) as work:
        so_far = backfill.start_run(work.conn, work.scope, "held-open")
        first, last = backfill.next_batch(work.conn, work.scope, "raw_import_records", None, 1000)
        backfill.apply_batch(
            work.conn, work.scope, "held-open", "raw_import_records", first, last, so_far
        )
        with engine.connect() as writer, writer.begin():
            transactions.set_local_timeouts(writer, retry.DEFAULT_LOCK_TIMEOUT_MS, 60_000)
            written = dict(
                writer.execute(
                    text(
                        """
                        INSERT INTO migration.assets (client_account_id, engagement_id, name,
                            discovery_method, flow_id, raw_import_records_id, custom_attributes)
                        VALUES (:client_account_id, :engagement_id, 'live-legacy',
                                'flow_based', :flow_id, NULL, '{}'),
                               (:client_account_id, :engagement_id, 'live-from-record',
                                'flow_based', :flow_id, :requeued, '{}')
                        RETURNING name, id
                        """
                    ),
                    {
                        **world.main.scope.as_params(),
                        "flow_id": flow["flow_id"],
                        "requeued": requeued,
                    },
                ).all()
            )

    execute(engine)

    with engine.connect() as conn:
        live = {
            row.name: tuple(row)[1:]
            for row in conn.execute(
                text(
                    "SELECT a.name, a.discovery_flow_id, r.asset_id = a.id AS linked_back"
                    " FROM migration.assets a LEFT JOIN migration.raw_import_records r"
                    " ON r.id = a.raw_import_records_id WHERE a.id = ANY(:ids)"
                ),
                {"ids": list(written.values())},
            )
        }
    assert live == {"live-legacy": (flow["id"], None), "live-from-record": (flow["id"], True)}


def test_the_backfill_waits_out_a_writers_lock_and_retries(engine, world):
    """A writer holds a row the backfill must change: the batch gives up after its lock
    timeout, rolls back, and succeeds once the writer commits; both changes survive."""
    target = next(iter(world.ids("missing_flow")))
    retried = threading.Event()
    policy = RetryPolicy(lock_timeout_ms=50, max_attempts=1000, on_retry=lambda r: retried.set())
    outcome: dict = {}

    with engine.connect() as writer:
        writer.begin()
        writer.execute(
            text("UPDATE migration.assets SET name = 'renamed-by-app' WHERE id = :id"),
            {"id": target},
        )

        def backfill_in_thread() -> None:
            outcome["report"] = execute(engine, batch_size=100, policy=policy)

        thread = threading.Thread(target=backfill_in_thread)
        thread.start()
        assert retried.wait(timeout=120), "the backfill never hit the writer's lock"
        writer.commit()
    thread.join()

    report = outcome["report"]
    assert report.retries >= 1
    assert report.tally.repairs == EXPECTED_REPAIRS
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT name, discovery_flow_id FROM migration.assets WHERE id = :id"),
            {"id": target},
        ).one()
    assert tuple(row) == ("renamed-by-app", world.main.flows["main"]["id"])


def test_defect_world_backfill_leaves_clean_partitions_alone(engine):
    defect_world = build_defect_world(engine)
    clean_keys = [p.scope.partition_key for p in defect_world.clean]
    clean_before = {key: metrics(engine, key) for key in clean_keys}
    other_rows = {
        table: {
            k: v
            for k, v in rows_by_id(engine, table).items()
            if k not in _partition_ids(engine, table, BROKEN_KEY)
        }
        for table in ("assets", "raw_import_records")
    }

    report = execute(engine, BROKEN_KEY, batch_size=4)

    after = metrics(engine, BROKEN_KEY)
    assert after["assets_with_orphan_flow_ref"] == 0
    assert after["assets_with_orphan_raw_import_ref"] == 0
    assert after["raw_records_with_orphan_asset_ref"] == 0
    assert after["asymmetric_links"] == report.tally.unrepairable["link_conflicts"]
    assert {key: metrics(engine, key) for key in clean_keys} == clean_before
    for table, rows in other_rows.items():
        now = rows_by_id(engine, table)
        assert {k: now[k] for k in rows} == rows


def _partition_ids(engine: Engine, table: str, key: str) -> set:
    with transactions.partition_transaction(engine, key) as work:
        return set(
            work.conn.execute(
                text(
                    f"SELECT id FROM migration.{table} WHERE client_account_id = :client_account_id"
                    " AND engagement_id = :engagement_id"
                ),
                work.scope.as_params(),
            ).scalars()
        )
