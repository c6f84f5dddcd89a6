"""Alerts for failed wiring checks: built from a check evaluation, kept in a JSON-lines file,
posted to a webhook.

The file is the record that is never lost, and the webhook's queue: the webhook is a
delivery channel that may be down, so what it has not accepted is simply the part of the
file after a byte position the sensor keeps, however long it is down. An alert is
identified by the evaluation it comes from, so writing it twice (a sensor tick retried
after a crash) is detected and skipped. A line that is no alert (the torn end of a write
cut short by a crash, or an edit) is skipped and counted, never an error: one bad line must
not stop every later alert.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
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


@dataclass(frozen=True)
class Line:
    """One non-blank line of the alerts file: where it is, and its alert (None: unreadable)."""

    number: int
    start: int
    end: int
    alert: dict | None


def _parse(raw: bytes) -> dict | None:
    try:
        value = json.loads(raw)
    except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
        return None
    if isinstance(value, dict) and isinstance(value.get("alert_id"), str):
        return value
    return None


def _lines(path: Path, start: int = 0) -> Iterator[Line]:
    """The lines from byte `start` on, numbered from there; blank lines are skipped."""
    if not path.exists():
        return
    with path.open("rb") as handle:
        handle.seek(start)
        position = start
        for number, raw in enumerate(handle, start=1):
            line_start, position = position, position + len(raw)
            if raw.strip():
                yield Line(number, line_start, position, _parse(raw))


def file_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _ends_unterminated(path: Path) -> bool:
    if file_size(path) == 0:
        return False
    with path.open("rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) != b"\n"


@dataclass
class Appended:
    #: The alerts written now (those not in the file yet).
    written: list[Alert]
    #: Numbers of the lines that hold no alert, skipped.
    unreadable_lines: list[int]


def append_new_alerts(path: Path, alerts: Sequence[Alert]) -> Appended:
    """Append the alerts not yet in the file, reading past lines that hold no alert.

    A last line cut short by a crash is ended first, so the first new alert starts a line
    of its own instead of being glued to the torn one (and lost with it); the alert that
    was being written is in the batch again, since the crashed tick saved no cursor.
    """
    wanted = {a.alert_id for a in alerts}
    present: set[str] = set()
    unreadable: list[int] = []
    for line in _lines(path):
        if line.alert is None:
            unreadable.append(line.number)
        elif line.alert["alert_id"] in wanted:
            present.add(line.alert["alert_id"])
    new = [a for a in alerts if a.alert_id not in present]
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
        unterminated = _ends_unterminated(path)
        with path.open("a", encoding="utf-8") as handle:
            if unterminated:
                handle.write("\n")
            for alert in new:
                handle.write(json.dumps(alert.as_json(), default=str) + "\n")
            handle.flush()
    return Appended(new, unreadable)


def read_alerts(path: Path) -> list[dict]:
    """Every stored alert, in file order, reading past the lines that hold none."""
    return [line.alert for line in _lines(path) if line.alert is not None]


def start_of(path: Path, alert_ids: Iterable[str]) -> int | None:
    """Byte position of the first of these alerts in the file, None if none is there."""
    wanted = set(alert_ids)
    for line in _lines(path):
        if line.alert is not None and line.alert["alert_id"] in wanted:
            return line.start
    return None


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
    #: Byte position after the last alert delivered: where the next attempt starts.
    offset: int
    delivered: list[str] = field(default_factory=list)
    #: Alerts after `offset` still to deliver.
    waiting: int = 0
    error: str | None = None


def deliver(
    url: str,
    path: Path,
    offset: int,
    *,
    limit: int,
    budget_seconds: float = 20.0,
    clock: Callable[[], float] = time.monotonic,
    **post_options,
) -> Delivery:
    """Post the file's alerts after byte `offset` in order; stop at the first dead delivery.

    Stopping at the first failure keeps a down webhook from stalling the sensor for
    retries x alerts; at most `limit` posts and `budget_seconds` a call keep a long backlog
    (a webhook down for a day) or a slow webhook inside a sensor tick, the rest going on
    the next calls. Nothing is dropped: what is not delivered stays after the offset.
    """
    outcome = Delivery(offset)
    started = clock()
    for line in _lines(path, offset):
        stopped = (
            outcome.error is not None
            or len(outcome.delivered) >= limit
            or clock() - started >= budget_seconds
        )
        if line.alert is None:  # counted where the file is scanned; nothing to deliver
            if not stopped:
                outcome.offset = line.end
            continue
        if not stopped:
            outcome.error = post_alert(url, line.alert, **post_options)
            if outcome.error is None:
                outcome.delivered.append(line.alert["alert_id"])
                outcome.offset = line.end
                continue
        outcome.waiting += 1
    return outcome
