"""The alert sensor: one alert per failed evaluation, across ticks, through a dead webhook."""

from __future__ import annotations

import pytest

from wiring_pipeline.defs.health.sensors import AlertCursor
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.contract.metrics import METRICS
from wiring_pipeline_tests.support.defects import build_defect_world
from wiring_pipeline_tests.support.pipeline_helpers import measure_health, stored_alerts
from wiring_pipeline_tests.support.pipeline_helpers import tick_alert_sensor as tick
from wiring_pipeline_tests.support.webhook import dead_url, webhook_receiver


@pytest.fixture()
def world(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("WIRING_HOME", str(tmp_path))
    monkeypatch.delenv("WIRING_ALERT_WEBHOOK_URL", raising=False)
    return build_defect_world(engine)


@pytest.fixture()
def instance(world, postgres_instance):
    postgres_instance.add_dynamic_partitions(
        tenant_engagements.name,
        [p.scope.partition_key for p in (world.broken, world.neighbour)],
    )
    return postgres_instance


#: Checks that fail again on an unchanged count: all but the one judged on growth.
STILL_FAILING = [m for m in METRICS if m.fails_on == "any"]


def test_one_alert_per_failed_evaluation_across_ticks(world, instance):
    broken = world.broken.scope.partition_key
    first_run = measure_health(instance, broken).run_id
    measure_health(instance, world.neighbour.scope.partition_key)  # all pass: no alerts
    cursor = tick(instance, None)

    first = stored_alerts()
    assert {a["check"] for a in first} == {m.name for m in METRICS}
    for alert in first:
        metric = next(m for m in METRICS if m.name == alert["check"])
        assert alert["partition"] == broken and alert["run_id"] == first_run
        assert alert["severity"] == metric.severity
        assert alert["count"] == world.expected[metric.name]
        assert {s["id"] for s in alert["samples"]} <= world.violating_ids[metric.name]
        assert alert["link"] == f"/assets/wiring_health?partition={broken}"

    assert tick(instance, cursor) == cursor  # nothing new: nothing written
    assert len(stored_alerts()) == len(METRICS)

    second_run = measure_health(instance, broken).run_id
    replayed_from = cursor
    cursor = tick(instance, cursor)
    after_second = stored_alerts()
    second = after_second[len(METRICS) :]
    assert {a["check"] for a in second} == {m.name for m in STILL_FAILING}
    assert {a["run_id"] for a in second} == {second_run}

    # A tick that is retried from an older cursor (its cursor was never saved) writes nothing twice.
    tick(instance, replayed_from)
    assert stored_alerts() == after_second
    assert len({a["alert_id"] for a in after_second}) == len(after_second)


def test_alerts_reach_a_live_webhook(world, instance, monkeypatch):
    measure_health(instance, world.broken.scope.partition_key)
    with webhook_receiver() as hook:
        monkeypatch.setenv("WIRING_ALERT_WEBHOOK_URL", hook.url)
        cursor = tick(instance, None)
    assert [body["alert_id"] for body in hook.bodies] == [a["alert_id"] for a in stored_alerts()]
    assert len(hook.bodies) == len(METRICS)
    assert AlertCursor.parse(cursor).undelivered == []


def test_a_dead_webhook_loses_no_alert_and_holds_back_no_later_one(world, instance, monkeypatch):
    broken = world.broken.scope.partition_key
    monkeypatch.setenv("WIRING_ALERT_WEBHOOK_URL", dead_url())
    measure_health(instance, broken)
    cursor = tick(instance, None)
    assert len(stored_alerts()) == len(METRICS)
    assert len(AlertCursor.parse(cursor).undelivered) == len(METRICS)

    measure_health(instance, broken)
    cursor = tick(instance, cursor)  # the position moves on although the webhook is down
    assert len(stored_alerts()) == len(METRICS) + len(STILL_FAILING)
    assert len(AlertCursor.parse(cursor).undelivered) == len(METRICS) + len(STILL_FAILING)

    with webhook_receiver() as hook:
        monkeypatch.setenv("WIRING_ALERT_WEBHOOK_URL", hook.url)
        cursor = tick(instance, cursor)
        assert tick(instance, cursor) == cursor
    assert [body["alert_id"] for body in hook.bodies] == [a["alert_id"] for a in stored_alerts()]
    assert AlertCursor.parse(cursor).undelivered == []
