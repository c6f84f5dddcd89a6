"""Alerts: built from an evaluation, written once, posted to a real local webhook."""

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
    assert alerts.append_new_alerts(path, first) == first
    assert alerts.append_new_alerts(path, [make_alert(2), make_alert(3)]) == [make_alert(3)]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["alert_id"] for line in lines] == ["run-1:1", "run-1:2", "run-1:3"]
    assert [a["alert_id"] for a in alerts.read_alerts(path, ["run-1:3", "run-1:1"])] == [
        "run-1:1",
        "run-1:3",
    ]


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


def test_deliver_keeps_the_rest_once_the_webhook_is_down():
    batch = [make_alert(n).as_json() for n in (1, 2, 3)]
    outcome = alerts.deliver(dead_url(), batch, **NO_WAIT)
    assert outcome.delivered == [] and outcome.undelivered == ["run-1:1", "run-1:2", "run-1:3"]
    assert "refused" in outcome.error.lower()
    with webhook_receiver() as hook:
        outcome = alerts.deliver(hook.url, batch, **NO_WAIT)
    assert outcome.delivered == ["run-1:1", "run-1:2", "run-1:3"] and outcome.error is None
    assert [body["alert_id"] for body in hook.bodies] == outcome.delivered
