"""`wiring_check_alert_sensor`: every failed check evaluation becomes one alert.

The cursor is the storage id of the last evaluation handled plus the ids of alerts the
webhook has not accepted yet. The position always moves past what was read, so a dead
webhook never holds back later alerts; the undelivered ones are retried on later ticks
from the alerts file, which has them all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

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
#: Alerts kept for webhook redelivery; older ones stay in the file only.
MAX_UNDELIVERED = 500


@dataclass
class AlertCursor:
    after: int | None = None
    undelivered: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, cursor: str | None) -> AlertCursor:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(data.get("after"), list(data.get("undelivered", [])))

    def dump(self) -> str:
        return json.dumps({"after": self.after, "undelivered": self.undelivered})


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
    for alert in alerts.append_new_alerts(path, failed):
        context.log.warning("wiring check alert: %s", json.dumps(alert.as_json(), default=str))

    undelivered: list[str] = []
    url = settings.alert_webhook_url()
    if url:
        pending = state.undelivered + [a.alert_id for a in failed]
        delivery = alerts.deliver(url, alerts.read_alerts(path, pending))
        if delivery.error:
            context.log.error(
                "webhook %s failed: %s; %d alert(s) kept for the next tick (all are in %s)",
                url,
                delivery.error,
                len(delivery.undelivered),
                path,
            )
        undelivered = delivery.undelivered[-MAX_UNDELIVERED:]

    after = records[-1].storage_id if records else state.after
    return SensorResult(
        skip_reason=f"{len(failed)} alert(s) from {len(records)} check evaluation(s)",
        cursor=AlertCursor(after, undelivered).dump(),
    )
