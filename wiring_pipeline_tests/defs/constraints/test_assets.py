"""`wiring_constraints_job`: keys added NOT VALID while orphans remain (the check fails and
names the partitions), validated once the backfill ran (the check passes)."""

from __future__ import annotations

import pytest
from dagster import DagsterInstance

from wiring_pipeline.db.backfill_runs import run_backfill
from wiring_pipeline.definitions import defs
from wiring_pipeline.domain.contract.constraints import FOREIGN_KEYS
from wiring_pipeline_tests.support.legacy_fixture import (
    MAIN_KEY,
    RIVAL_KEY,
    SIBLING_KEY,
    build_legacy_world,
    drop_foreign_keys,
)


@pytest.fixture()
def world(engine):
    world = build_legacy_world(engine)
    yield world
    drop_foreign_keys(engine)


def run_constraints_job(instance):
    result = defs.resolve_job_def("wiring_constraints_job").execute_in_process(
        instance=instance, raise_on_error=False
    )
    (materialization,) = result.asset_materializations_for_node("wiring_foreign_keys")
    (evaluation,) = result.get_asset_check_evaluations()
    return result, materialization.metadata, evaluation


def test_orphans_stop_validation_and_the_check_says_where(engine, world):
    with DagsterInstance.ephemeral() as instance:
        result, metadata, evaluation = run_constraints_job(instance)

    assert result.success
    assert metadata["validation"].value == "refused"
    assert set(metadata["partitions_with_orphans"].value) == {MAIN_KEY, SIBLING_KEY, RIVAL_KEY}
    assert {metadata[fk.name].value for fk in FOREIGN_KEYS} == {"not valid"}
    assert evaluation.check_name == "wiring_foreign_keys_validated"
    assert not evaluation.passed
    assert MAIN_KEY in evaluation.metadata["partitions_with_orphans"].value


def test_after_the_backfill_every_key_is_validated(engine, world):
    for key in (MAIN_KEY, SIBLING_KEY, RIVAL_KEY):
        run_backfill(engine, key, f"fix-{key}", dry_run=False)
    with DagsterInstance.ephemeral() as instance:
        result, metadata, evaluation = run_constraints_job(instance)
        again, again_metadata, _ = run_constraints_job(instance)

    assert result.success and again.success
    assert again_metadata["added"].value == []  # a second run finds every key in place
    assert metadata["validation"].value == "done"
    assert metadata["report"].value["states"] == {
        "fk_assets_flow_ref": "validated",
        "fk_assets_raw_import_ref": "validated",
        "fk_raw_import_records_asset_ref": "validated",
        "fk_raw_import_records_superseded_by": "validated",
        "fk_asset_sources_source_asset_ref": "validated",
        "fk_asset_sources_source_flow_ref": "validated",
        "fk_asset_sources_source_raw_import_ref": "validated",
    }
    assert evaluation.passed
