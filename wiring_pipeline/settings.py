"""Where the project keeps its state, read from the environment at call time.

Reading lazily (not at import) lets tests and the CLI point one process at another
`WIRING_HOME` or database without re-importing anything.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def wiring_home() -> Path:
    """The directory for the embedded server, imported files, alerts and the Dagster home."""
    return Path(os.environ.get("WIRING_HOME", "./.wiring")).expanduser().resolve()


def configured_database_url() -> str | None:
    """The application database the user named, or None for the embedded server."""
    return os.environ.get("WIRING_DATABASE_URL") or None


def alert_webhook_url() -> str | None:
    return os.environ.get("WIRING_ALERT_WEBHOOK_URL") or None


def imports_dir() -> Path:
    return wiring_home() / "imports"


def alerts_file() -> Path:
    return wiring_home() / "alerts.jsonl"
