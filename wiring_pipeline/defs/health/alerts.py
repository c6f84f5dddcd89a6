"""Alerts for failed wiring checks: built from a check evaluation, kept in a JSON-lines file,
posted to a webhook.

The file is the record that is never lost; the webhook is a delivery channel that may be
down. An alert is identified by the evaluation it comes from, so writing it twice (a sensor
tick retried after a crash) is detected and skipped, and a delivery that failed can be
retried later from the file.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Attempts per alert and the pause before each retry (seconds): about 1.5 s for a dead URL.
WEBHOOK_ATTEMPTS = 3
WEBHOOK_BACKOFF = (0.5, 1.0)
WEBHOOK_TIMEOUT = 5.0


@dataclass(frozen=True)
class Alert:
    #: `<run id>:<event storage id>`: one evaluation, one alert.
    alert_id: str
    partition: str | None
    asset: str
    check: str
    severity: str
    count: int | None
    samples: list
    run_id: str
    link: str
    description: str | None
    evaluated_at: float

    def as_json(self) -> dict:
        return asdict(self)


def asset_link(asset_path: Sequence[str], partition: str | None) -> str:
    """Path of the asset in the Dagster UI, at the failing partition when there is one."""
    path = "/assets/" + "/".join(urllib.parse.quote(part, safe="") for part in asset_path)
    if partition is None:
        return path
    return f"{path}?{urllib.parse.urlencode({'partition': partition})}"


def build_alert(
    *,
    storage_id: int,
    run_id: str,
    evaluated_at: float,
    asset_path: Sequence[str],
    check: str,
    partition: str | None,
    severity: str,
    description: str | None,
    metadata: dict,
) -> Alert:
    """An alert from a failed evaluation; `metadata` holds plain values (count, samples)."""
    count = metadata.get("count")
    return Alert(
        alert_id=f"{run_id}:{storage_id}",
        partition=partition,
        asset="/".join(asset_path),
        check=check,
        severity=severity,
        count=int(count) if count is not None else None,
        samples=list(metadata.get("samples") or []),
        run_id=run_id,
        link=asset_link(asset_path, partition),
        description=description,
        evaluated_at=evaluated_at,
    )


def _read_lines(path: Path) -> Iterable[dict]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def append_new_alerts(path: Path, alerts: Sequence[Alert]) -> list[Alert]:
    """Append the alerts not yet in the file; returns those written."""
    wanted = {a.alert_id for a in alerts}
    present = {line["alert_id"] for line in _read_lines(path) if line.get("alert_id") in wanted}
    new = [a for a in alerts if a.alert_id not in present]
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            for alert in new:
                handle.write(json.dumps(alert.as_json(), default=str) + "\n")
            handle.flush()
    return new


def read_alerts(path: Path, alert_ids: Iterable[str]) -> list[dict]:
    """The stored alerts with these ids, in file order."""
    wanted = set(alert_ids)
    return [line for line in _read_lines(path) if line.get("alert_id") in wanted]


def post_alert(
    url: str,
    alert: dict,
    *,
    attempts: int = WEBHOOK_ATTEMPTS,
    backoff: Sequence[float] = WEBHOOK_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """POST one alert as JSON, retrying; returns None on success or the last error."""
    body = json.dumps(alert, default=str).encode("utf-8")
    error = "no attempt made"
    for attempt in range(attempts):
        if attempt:
            sleep(backoff[min(attempt - 1, len(backoff) - 1)])
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:
                if 200 <= response.status < 300:
                    return None
                error = f"HTTP {response.status}"
        except urllib.error.HTTPError as failure:
            error = f"HTTP {failure.code}"
        except (urllib.error.URLError, OSError) as failure:
            error = str(getattr(failure, "reason", failure))
    return f"{error} (after {attempts} attempts)"


@dataclass
class Delivery:
    delivered: list[str] = field(default_factory=list)
    undelivered: list[str] = field(default_factory=list)
    error: str | None = None


def deliver(url: str, alerts: Sequence[dict], **post_options) -> Delivery:
    """Post alerts in order; once one fails for good, keep the rest for a later attempt.

    Stopping at the first dead delivery keeps a down webhook from stalling the sensor for
    retries x alerts; the undelivered ids go back to the caller to try again next time.
    """
    outcome = Delivery()
    for position, alert in enumerate(alerts):
        error = post_alert(url, alert, **post_options)
        if error is not None:
            outcome.error = error
            outcome.undelivered = [a["alert_id"] for a in alerts[position:]]
            break
        outcome.delivered.append(alert["alert_id"])
    return outcome
