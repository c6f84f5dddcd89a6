"""`wiring_check_alert_sensor`: every failed check evaluation becomes one alert.

The cursor is the storage id of the last evaluation handled and, for the webhook, the byte
position in the alerts file up to which the webhook has accepted every alert. The
evaluation position always moves past what was read, so a dead webhook never holds back
later alerts; what the webhook has not accepted is the rest of the file, retried on later
ticks however long it is down, so no alert is ever dropped from the webhook's queue. The
cursor also carries what a user needs to see on the sensor's page: how many alerts wait
for the webhook and how many lines of the file hold no alert.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dagster import (
    DagsterEventType,
    DefaultSensorStatus,
    EventLogRecord,
    EventRecordsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from wiring_pipeline import settings
from wiring_pipeline.defs.health import alerts

#: Evaluations read per tick; a backlog drains over the next ticks.
BATCH_SIZE = 500
#: Webhook posts per tick: more than a tick can add, so a backlog shrinks on every tick.
DELIVERIES_PER_TICK = 2 * BATCH_SIZE
#: Line numbers named in a log line; the rest are counted.
LOGGED_LINES = 10


@dataclass
class AlertCursor:
    after: int | None = None
    #: Byte position in the alerts file before which the webhook has every alert.
    webhook_offset: int | None = None
    #: Alerts after `webhook_offset` (shown, not used to decide anything).
    webhook_waiting: int = 0
    #: Lines of the alerts file that hold no alert, skipped.
    unreadable_lines: int = 0
    #: Cursors written before the webhook position: the ids it had not accepted.
    undelivered: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, cursor: str | None) -> AlertCursor:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(
            data.get("after"),
            data.get("webhook_offset"),
            int(data.get("webhook_waiting", 0)),
            int(data.get("unreadable_lines", 0)),
            list(data.get("undelivered", [])),
        )

    def dump(self) -> str:
        data = asdict(self)
        if not self.undelivered:
            del data["undelivered"]
        return json.dumps(data)


def alert_from_record(record: EventLogRecord) -> alerts.Alert | None:
    """The alert for a failed evaluation, None for a passed one."""
    evaluation = record.event_log_entry.dagster_event.event_specific_data
    if evaluation.passed:
        return None
    return alerts.build_alert(
        storage_id=record.storage_id,
        run_id=record.run_id,
        evaluated_at=record.timestamp,
        asset_path=evaluation.asset_key.path,
        check=evaluation.check_name,
        partition=evaluation.partition,
        severity=evaluation.severity.value,
        description=evaluation.description,
        metadata={key: value.value for key, value in evaluation.metadata.items()},
    )


def _webhook_start(context: SensorEvaluationContext, state: AlertCursor, path: Path) -> int:
    """Where the webhook's queue starts in the file, before this tick appends to it."""
    size = alerts.file_size(path)
    if state.webhook_offset is None:
        # No position yet: a first tick starts at the end, a cursor of the id-list kind
        # at the first alert it had not delivered.
        start = alerts.start_of(path, state.undelivered) if state.undelivered else None
        return size if start is None else start
    if state.webhook_offset > size:
        context.log.warning(
            f"{path} is shorter than the webhook's position ({size} < {state.webhook_offset}"
            " bytes): it was truncated or replaced; its alerts are delivered from its start"
        )
        return 0
    return state.webhook_offset


def _log_unreadable(context: SensorEvaluationContext, path: Path, lines: list[int]) -> None:
    """Say once, when their number changes, which lines of the file are skipped."""
    if not lines:
        context.log.info(f"{path}: every line holds an alert again")
        return
    shown = ", ".join(map(str, lines[:LOGGED_LINES]))
    more = f", … ({len(lines)} in all)" if len(lines) > LOGGED_LINES else ""
    context.log.warning(
        f"{path}: {len(lines)} line(s) hold no alert and are skipped (line {shown}{more}):"
        " a write cut short by a crash, or an edit; every other alert is read and delivered"
    )


# On by default: the deployment promises alerts on failed checks without a manual toggle.
@sensor(
    name="wiring_check_alert_sensor",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
)
def wiring_check_alert_sensor(context: SensorEvaluationContext) -> SensorResult:
    """Turn failed wiring check evaluations into alerts: Dagster log, alerts.jsonl, webhook."""
    state = AlertCursor.parse(context.cursor)
    records = context.instance.event_log_storage.get_event_records(
        EventRecordsFilter(DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=state.after),
        limit=BATCH_SIZE,
        ascending=True,
    )
    failed = [a for a in map(alert_from_record, records) if a is not None]
    path = settings.alerts_file()
    offset = _webhook_start(context, state, path)
    appended = alerts.append_new_alerts(path, failed)
    for alert in appended.written:
        context.log.warning("wiring check alert: %s", json.dumps(alert.as_json(), default=str))
    unreadable = appended.unreadable_lines
    if len(unreadable) != state.unreadable_lines:
        _log_unreadable(context, path, unreadable)

    summary = [f"{len(failed)} alert(s) from {len(records)} check evaluation(s)"]
    waiting = 0
    url = settings.alert_webhook_url()
    if url:
        delivery = alerts.deliver(url, path, offset, limit=DELIVERIES_PER_TICK)
        offset, waiting = delivery.offset, delivery.waiting
        if delivery.error:
            context.log.error(
                f"webhook {url} failed: {delivery.error}; {waiting} alert(s) wait for the "
                f"next tick (all are in {path})"
            )
        summary.append(f"webhook: {len(delivery.delivered)} delivered, {waiting} waiting")
    else:
        offset = alerts.file_size(path)  # written while no webhook was set: not for one
    if unreadable:
        summary.append(f"{path.name}: {len(unreadable)} unreadable line(s) skipped")

    after = records[-1].storage_id if records else state.after
    return SensorResult(
        skip_reason="; ".join(summary),
        cursor=AlertCursor(after, offset, waiting, len(unreadable)).dump(),
    )
