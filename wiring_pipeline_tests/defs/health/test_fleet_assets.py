"""The nightly pass over 50 partitions: every one measured, only the broken and changed reported."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from wiring_pipeline.definitions import defs
from wiring_pipeline.defs.health.jobs import wiring_health_fleet_job
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.contract.metrics import METRICS
from wiring_pipeline.domain.core.tenancy import list_partition_keys, resolve_scope
from wiring_pipeline.samples.broken_rows import add_partition
from wiring_pipeline_tests.support.defects import build_defect_world
from wiring_pipeline_tests.support.pipeline_helpers import stored_alerts, tick_alert_sensor

PARTITIONS = 50
UNPROCESSED_KEY = "fleet.t-07"
LATER_BROKEN_KEY = "fleet.t-21"


@pytest.fixture()
def fleet(engine, postgres_instance, tmp_path, monkeypatch):
    """The defect world (one broken partition, two clean) and 47 clean partitions more, one
    of which has an unprocessed raw record; every one of them a Dagster partition."""
    monkeypatch.setenv("WIRING_HOME", str(tmp_path))
    monkeypatch.delenv("WIRING_ALERT_WEBHOOK_URL", raising=False)
    world = build_defect_world(engine)
    with engine.begin() as conn:
        for n in range(PARTITIONS - 3):
            rows = add_partition(conn, f"fleet.t-{n:02d}")
            rows.pair("linked")
            if rows.scope.partition_key == UNPROCESSED_KEY:
                rows.raw(processed=False)
            rows.flush(conn)
        keys = list_partition_keys(conn)
    postgres_instance.add_dynamic_partitions(tenant_engagements.name, keys)
    return world, keys


def nightly_pass(instance):
    result = defs.resolve_job_def(wiring_health_fleet_job.name).execute_in_process(
        instance=instance
    )
    assert result.success
    return result


def reported(result) -> dict[str, dict[str, bool]]:
    """Partition -> check -> passed, of every check evaluation the pass emitted."""
    out: dict[str, dict[str, bool]] = {}
    for evaluation in result.get_asset_check_evaluations():
        out.setdefault(evaluation.partition, {})[evaluation.check_name] = evaluation.passed
    return out


def snapshot_runs(engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT partition_key, dagster_run_id FROM migration.wiring_health_snapshots"
                " ORDER BY id"
            )
        ).all()
    runs: dict[str, list[str]] = {}
    for key, run_id in rows:
        runs.setdefault(key, []).append(run_id)
    return runs


def test_the_nightly_pass_reports_the_broken_and_changed_partitions_only(
    engine, postgres_instance, fleet
):
    world, keys = fleet
    broken = world.broken.scope.partition_key
    first = nightly_pass(postgres_instance)

    assert snapshot_runs(engine) == {key: [first.run_id] for key in keys}
    assert reported(first) == {
        broken: {m.name: False for m in METRICS if world.expected[m.name]},
        UNPROCESSED_KEY: {"unprocessed_raw_records": False},
    }
    [materialization] = first.asset_materializations_for_node("wiring_health_fleet")
    totals = {name: value.value for name, value in materialization.metadata.items()}
    assert (totals["partitions"], totals["unhealthy"]) == (PARTITIONS, 2)
    assert totals["unhealthy_partitions"] == sorted([broken, UNPROCESSED_KEY])
    assert totals["metric_totals"]["unprocessed_raw_records"] == (
        world.expected["unprocessed_raw_records"] + 1
    )
    table = materialization.metadata["metric_totals_table"].value
    assert {row.data["metric"]: row.data["total"] for row in table.records} == (
        totals["metric_totals"]
    )

    cursor = tick_alert_sensor(postgres_instance, None)
    alerts = stored_alerts()
    assert sorted((a["partition"], a["check"]) for a in alerts) == sorted(
        (key, check) for key, checks in reported(first).items() for check in checks
    )
    assert {a["run_id"] for a in alerts} == {first.run_id}
    broken_alert = next(a for a in alerts if a["check"] == "asymmetric_links")
    assert broken_alert["count"] == world.expected["asymmetric_links"]
    assert {s["id"] for s in broken_alert["samples"]} <= world.violating_ids["asymmetric_links"]

    # Nothing changed: every partition gets its snapshot, Dagster hears nothing new.
    second = nightly_pass(postgres_instance)
    assert reported(second) == {}
    assert snapshot_runs(engine) == {key: [first.run_id, second.run_id] for key in keys}
    cursor = tick_alert_sensor(postgres_instance, cursor)
    assert stored_alerts() == alerts

    # One partition repaired, another newly broken: exactly those two are reported.
    with engine.begin() as conn:
        for key, processed in ((UNPROCESSED_KEY, True), (LATER_BROKEN_KEY, False)):
            conn.execute(
                text(
                    "UPDATE migration.raw_import_records SET is_processed = :processed"
                    " WHERE client_account_id = :client_account_id"
                    " AND engagement_id = :engagement_id"
                ),
                {**resolve_scope(conn, key).as_params(), "processed": processed},
            )
    third = nightly_pass(postgres_instance)
    assert reported(third) == {
        UNPROCESSED_KEY: {"unprocessed_raw_records": True},
        LATER_BROKEN_KEY: {"unprocessed_raw_records": False},
    }
    tick_alert_sensor(postgres_instance, cursor)
    new_alerts = stored_alerts()[len(alerts) :]
    assert [(a["partition"], a["check"], a["run_id"]) for a in new_alerts] == [
        (LATER_BROKEN_KEY, "unprocessed_raw_records", third.run_id)
    ]
