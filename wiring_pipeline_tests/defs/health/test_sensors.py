"""The alert sensor: one alert per failed evaluation, across ticks, through a dead webhook,
past torn lines of its file, and none ever dropped from the webhook's queue."""

from __future__ import annotations

import pytest
from dagster import AssetCheckEvaluation, AssetKey, build_sensor_context

from wiring_pipeline import settings
from wiring_pipeline.defs.health import alerts
from wiring_pipeline.defs.health.sensors import BATCH_SIZE, AlertCursor, wiring_check_alert_sensor
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
    assert AlertCursor.parse(cursor).webhook_waiting == 0


def test_a_dead_webhook_loses_no_alert_and_holds_back_no_later_one(world, instance, monkeypatch):
    broken = world.broken.scope.partition_key
    monkeypatch.setenv("WIRING_ALERT_WEBHOOK_URL", dead_url())
    measure_health(instance, broken)
    cursor = tick(instance, None)
    assert len(stored_alerts()) == len(METRICS)
    assert AlertCursor.parse(cursor).webhook_waiting == len(METRICS)

    measure_health(instance, broken)
    cursor = tick(instance, cursor)  # the position moves on although the webhook is down
    assert len(stored_alerts()) == len(METRICS) + len(STILL_FAILING)
    assert AlertCursor.parse(cursor).webhook_waiting == len(METRICS) + len(STILL_FAILING)

    with webhook_receiver() as hook:
        monkeypatch.setenv("WIRING_ALERT_WEBHOOK_URL", hook.url)
        cursor = tick(instance, cursor)
        assert tick(instance, cursor) == cursor
    assert [body["alert_id"] for body in hook.bodies] == [a["alert_id"] for a in stored_alerts()]
    assert AlertCursor.parse(cursor).webhook_waiting == 0


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("WIRING_HOME", str(tmp_path))
    monkeypatch.delenv("WIRING_ALERT_WEBHOOK_URL", raising=False)
    return tmp_path


def report_failed_evaluations(instance, count: int, first: int = 0) -> None:
    """`count` failed check evaluations, as a fleet pass over `count` partitions reports them."""
    for n in range(first, first + count):
        instance.report_runless_asset_event(
            AssetCheckEvaluation(
                asset_key=AssetKey("wiring_health"),
                check_name="asymmetric_links",
                passed=False,
                metadata={"count": 1},
                partition=f"fleet.e-{n:04d}",
            )
        )


def sensor_tick(instance, cursor):
    return wiring_check_alert_sensor(build_sensor_context(instance=instance, cursor=cursor))


def test_a_torn_line_in_the_alerts_file_is_skipped_and_shown_never_a_stuck_sensor(
    home, postgres_instance
):
    path = settings.alerts_file()
    path.write_text('{"alert_id": "run-0:1", "check": "asymmetric_links"}\n{"alert_id": "run-0')
    report_failed_evaluations(postgres_instance, 2)
    first = sensor_tick(postgres_instance, None)
    assert [a.get("partition") for a in alerts.read_alerts(path)] == [
        None,
        "fleet.e-0000",
        "fleet.e-0001",
    ]
    assert "1 unreadable line(s) skipped" in first.skip_reason.skip_message
    assert AlertCursor.parse(first.cursor).unreadable_lines == 1

    report_failed_evaluations(postgres_instance, 1, first=2)
    second = sensor_tick(postgres_instance, first.cursor)
    assert len(alerts.read_alerts(path)) == 4
    assert "1 unreadable line(s) skipped" in second.skip_reason.skip_message


def test_no_alert_is_dropped_however_long_the_webhook_is_down(home, postgres_instance, monkeypatch):
    backlog = BATCH_SIZE + 100  # more alerts than a tick reads: two ticks to write them all
    report_failed_evaluations(postgres_instance, backlog)
    monkeypatch.setenv("WIRING_ALERT_WEBHOOK_URL", dead_url())
    cursor = None
    for _ in range(2):
        cursor = sensor_tick(postgres_instance, cursor).cursor
    assert len(alerts.read_alerts(settings.alerts_file())) == backlog
    assert AlertCursor.parse(cursor).webhook_waiting == backlog

    with webhook_receiver() as hook:
        monkeypatch.setenv("WIRING_ALERT_WEBHOOK_URL", hook.url)
        result = sensor_tick(postgres_instance, cursor)
    assert len(hook.bodies) == backlog
    assert {body["partition"] for body in hook.bodies} == {
        f"fleet.e-{n:04d}" for n in range(backlog)
    }
    assert f"webhook: {backlog} delivered, 0 waiting" in result.skip_reason.skip_message


def test_a_cursor_of_undelivered_ids_resumes_at_its_first_alert(home, postgres_instance):
    report_failed_evaluations(postgres_instance, 3)
    cursor = sensor_tick(postgres_instance, None).cursor  # no webhook: nothing waits
    written = alerts.read_alerts(settings.alerts_file())
    # The cursor an earlier version saved with a dead webhook: ids, not a position.
    legacy = AlertCursor(
        after=AlertCursor.parse(cursor).after, undelivered=[a["alert_id"] for a in written[1:]]
    )
    with webhook_receiver() as hook, pytest.MonkeyPatch.context() as patch:
        patch.setenv("WIRING_ALERT_WEBHOOK_URL", hook.url)
        resumed = sensor_tick(postgres_instance, legacy.dump()).cursor
    assert [body["alert_id"] for body in hook.bodies] == [a["alert_id"] for a in written[1:]]
    assert "undelivered" not in resumed
