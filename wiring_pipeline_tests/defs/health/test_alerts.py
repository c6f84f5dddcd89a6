"""Alerts: built from an evaluation, written once past torn lines, posted to a real webhook."""

from __future__ import annotations

import json

from wiring_pipeline.defs.health import alerts
from wiring_pipeline_tests.support.webhook import dead_url, webhook_receiver

NO_WAIT = {"sleep": lambda seconds: None}


def make_alert(storage_id: int, partition: str = "acme.dc-exit") -> alerts.Alert:
    return alerts.build_alert(
        storage_id=storage_id,
        run_id="run-1",
        evaluated_at=1700000000.0,
        asset_path=["wiring_health"],
        check="asymmetric_links",
        partition=partition,
        severity="ERROR",
        description="2 links that hold in one direction only",
        metadata={"count": 2, "samples": [{"id": "a", "name": "srv"}], "partition": partition},
    )


def test_alert_carries_what_a_user_acts_on():
    alert = make_alert(7, partition="acme.dc-exit")
    assert alert.alert_id == "run-1:7"
    assert (alert.check, alert.severity, alert.count) == ("asymmetric_links", "ERROR", 2)
    assert alert.samples == [{"id": "a", "name": "srv"}]
    assert alert.link == "/assets/wiring_health?partition=acme.dc-exit"
    assert alerts.asset_link(["a b", "c"], None) == "/assets/a%20b/c"


def test_append_writes_each_alert_once(tmp_path):
    path = tmp_path / "deep" / "alerts.jsonl"
    first = [make_alert(1), make_alert(2)]
    assert alerts.append_new_alerts(path, first) == alerts.Appended(first, [])
    assert alerts.append_new_alerts(path, [make_alert(2), make_alert(3)]).written == [make_alert(3)]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["alert_id"] for line in lines] == ["run-1:1", "run-1:2", "run-1:3"]
    assert [a["alert_id"] for a in alerts.read_alerts(path)] == ["run-1:1", "run-1:2", "run-1:3"]


def write_torn_file(path) -> None:
    """An alert, then four lines that hold none, the last cut short by a crash mid-write."""
    whole = json.dumps(make_alert(1).as_json())
    torn_copy = json.dumps(make_alert(2).as_json())[:40]  # alert 2 was being written
    path.write_bytes(
        f"{whole}\nnot json at all\n42\n".encode() + b"\xff\xfe{}\n\n" + torn_copy.encode()
    )


def test_lines_that_hold_no_alert_are_skipped_and_counted_and_a_torn_end_is_closed(tmp_path):
    path = tmp_path / "alerts.jsonl"
    write_torn_file(path)
    assert [a["alert_id"] for a in alerts.read_alerts(path)] == ["run-1:1"]

    # The crashed tick saved no cursor: its batch comes again, and alert 2 is written whole
    # on a line of its own instead of being glued to its torn copy.
    appended = alerts.append_new_alerts(path, [make_alert(1), make_alert(2), make_alert(3)])
    assert appended.written == [make_alert(2), make_alert(3)]
    assert appended.unreadable_lines == [2, 3, 4, 6]  # line 5 is blank: not counted
    stored = alerts.read_alerts(path)
    assert [a["alert_id"] for a in stored] == ["run-1:1", "run-1:2", "run-1:3"]
    assert stored[1] == json.loads(json.dumps(make_alert(2).as_json()))
    assert alerts.append_new_alerts(path, []).unreadable_lines == [2, 3, 4, 6]


def test_post_retries_until_the_webhook_accepts():
    with webhook_receiver(fail_first=2) as hook:
        assert alerts.post_alert(hook.url, make_alert(1).as_json(), **NO_WAIT) is None
    assert hook.attempts == 3
    assert hook.bodies == [json.loads(json.dumps(make_alert(1).as_json()))]


def test_post_gives_up_with_the_reason():
    with webhook_receiver(fail_first=10) as hook:
        error = alerts.post_alert(hook.url, make_alert(1).as_json(), **NO_WAIT)
    assert error == "HTTP 503 (after 3 attempts)"
    assert alerts.post_alert(dead_url(), make_alert(1).as_json(), **NO_WAIT).endswith(
        "(after 3 attempts)"
    )


def test_deliver_keeps_the_rest_once_the_webhook_is_down(tmp_path):
    path = tmp_path / "alerts.jsonl"
    alerts.append_new_alerts(path, [make_alert(n) for n in (1, 2, 3)])
    outcome = alerts.deliver(dead_url(), path, 0, limit=10, **NO_WAIT)
    assert (outcome.offset, outcome.delivered, outcome.waiting) == (0, [], 3)
    assert "refused" in outcome.error.lower()
    with webhook_receiver() as hook:
        outcome = alerts.deliver(hook.url, path, 0, limit=10, **NO_WAIT)
    assert outcome.delivered == ["run-1:1", "run-1:2", "run-1:3"] and outcome.error is None
    assert (outcome.offset, outcome.waiting) == (alerts.file_size(path), 0)
    assert [body["alert_id"] for body in hook.bodies] == outcome.delivered


def test_deliver_goes_past_torn_lines_and_leaves_what_is_over_its_limit_for_later(tmp_path):
    path = tmp_path / "alerts.jsonl"
    write_torn_file(path)
    alerts.append_new_alerts(path, [make_alert(n) for n in (1, 2, 3, 4)])
    with webhook_receiver() as hook:
        first = alerts.deliver(hook.url, path, 0, limit=2, **NO_WAIT)
        assert (first.delivered, first.waiting) == (["run-1:1", "run-1:2"], 2)
        rest = alerts.deliver(hook.url, path, first.offset, limit=2, **NO_WAIT)
    assert (rest.delivered, rest.waiting) == (["run-1:3", "run-1:4"], 0)
    assert [body["alert_id"] for body in hook.bodies] == [f"run-1:{n}" for n in (1, 2, 3, 4)]
    assert alerts.start_of(path, ["run-1:3", "run-1:9"]) < rest.offset == alerts.file_size(path)


def test_deliver_stops_when_its_time_is_up_and_keeps_the_rest(tmp_path):
    path = tmp_path / "alerts.jsonl"
    alerts.append_new_alerts(path, [make_alert(n) for n in (1, 2, 3)])
    ticks = iter(range(100))  # a clock that moves 10 s per reading

    def clock() -> float:
        return next(ticks) * 10.0

    with webhook_receiver() as hook:
        outcome = alerts.deliver(
            hook.url, path, 0, limit=10, budget_seconds=25, clock=clock, **NO_WAIT
        )
    assert (outcome.delivered, outcome.waiting) == (["run-1:1", "run-1:2"], 1)
    assert outcome.offset == alerts.start_of(path, ["run-1:3"])
