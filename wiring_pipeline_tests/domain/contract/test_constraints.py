"""The tenant-scoped foreign keys: NOT VALID checks new writes at once, validation waits for
the backfill, a cross-tenant link is impossible, and the migrations still go down."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from wiring_pipeline.db import engines
from wiring_pipeline.db.backfill_runs import run_backfill
from wiring_pipeline.domain.contract import constraints
from wiring_pipeline_tests.support.legacy_fixture import (
    MAIN_KEY,
    RIVAL_KEY,
    SIBLING_KEY,
    build_legacy_world,
    drop_foreign_keys,
)

ALL_KEYS = [fk.name for fk in constraints.FOREIGN_KEYS]


@pytest.fixture()
def world(engine):
    world = build_legacy_world(engine)
    yield world
    drop_foreign_keys(engine)


def add_all(engine) -> list[str]:
    with engine.begin() as conn:
        return [fk.name for fk in constraints.FOREIGN_KEYS if constraints.add_foreign_key(conn, fk)]


def states(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return constraints.constraint_states(conn)


def test_not_valid_keys_refuse_new_bad_writes_at_once(engine, world):
    assert set(states(engine).values()) == {"absent"}

    assert add_all(engine) == ALL_KEYS
    assert add_all(engine) == []  # idempotent
    assert set(states(engine).values()) == {"not valid"}

    main = world.main
    with pytest.raises(IntegrityError, match="fk_assets_raw_import_ref"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO migration.assets (client_account_id, engagement_id, name,"
                " raw_import_records_id, custom_attributes)"
                " VALUES (:client_account_id, :engagement_id, 'new', :missing, '{}')"
            ),
            {**main.scope.as_params(), "missing": uuid.uuid4()},
        )
    # The rival's flow exists, but in another tenant: the composite key refuses the link.
    healthy_asset = world.cases["healthy"][0]
    with pytest.raises(IntegrityError, match="fk_assets_flow_ref"), engine.begin() as conn:
        conn.execute(
            text("UPDATE migration.assets SET discovery_flow_id = :flow WHERE id = :id"),
            {"flow": world.rival.flows["main"]["id"], "id": healthy_asset},
        )
    with (
        pytest.raises(IntegrityError, match="fk_raw_import_records_asset_ref"),
        engine.begin() as conn,
    ):
        conn.execute(
            text("UPDATE migration.raw_import_records SET asset_id = :asset WHERE id = :id"),
            {"asset": world.sibling.assets[0]["id"], "id": world.cases["healthy"][1]},
        )


def test_validation_waits_for_the_backfill_of_every_partition(engine, world):
    add_all(engine)
    with engine.connect() as conn:
        orphans = constraints.orphans_by_partition(conn)
    assert orphans == {
        MAIN_KEY: {
            "fk_assets_flow_ref": 2,
            "fk_assets_raw_import_ref": 2,
            "fk_raw_import_records_asset_ref": 3,
        },
        RIVAL_KEY: {"fk_raw_import_records_asset_ref": 1},
        SIBLING_KEY: {"fk_raw_import_records_asset_ref": 1},
    }
    # The database itself refuses to validate over orphans.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        constraints.validate_foreign_key(
            conn, constraints.FOREIGN_KEYS_BY_NAME["fk_raw_import_records_asset_ref"]
        )

    for key in (MAIN_KEY, SIBLING_KEY, RIVAL_KEY):
        run_backfill(engine, key, f"fix-{key}", dry_run=False)
    with engine.connect() as conn:
        assert constraints.orphans_by_partition(conn) == {}
    with engine.begin() as conn:
        for fk in constraints.FOREIGN_KEYS:
            constraints.validate_foreign_key(conn, fk)

    assert set(states(engine).values()) == {"validated"}


def test_orphans_remain_error_names_the_partitions():
    error = constraints.OrphansRemainError({MAIN_KEY: {"fk_assets_flow_ref": 2}})
    assert f"{MAIN_KEY}: 2 fk_assets_flow_ref" in str(error)


def test_drop_foreign_keys_returns_to_the_legacy_schema(engine, world):
    add_all(engine)
    with engine.begin() as conn:
        assert constraints.drop_foreign_keys(conn) == ALL_KEYS
        assert constraints.drop_foreign_keys(conn) == []
    assert set(states(engine).values()) == {"absent"}


def test_migrations_go_down_with_the_keys_in_place(fresh_database):
    engine = create_engine(fresh_database())
    try:
        engines.upgrade(engine)
        add_all(engine)
        with engine.begin() as conn:
            for fk in constraints.FOREIGN_KEYS:
                constraints.validate_foreign_key(conn, fk)
        assert set(states(engine).values()) == {"validated"}

        engines.downgrade(engine, "base")

        assert engines.current_revision(engine) is None
        engines.upgrade(engine)
        assert set(states(engine).values()) == {"absent"}
    finally:
        engine.dispose()
