"""Where the project keeps its state, read from the environment at call time.

Reading lazily (not at import) lets tests and the CLI point one process at another
`WIRING_HOME` or database without re-importing anything.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WIRING_HOME = "./.wiring"
#: The variables naming a directory; a relative one means "from where the user started".
PATH_VARIABLES = ("WIRING_HOME", "DAGSTER_HOME")


def wiring_home() -> Path:
    """The directory for the embedded server, imported files, alerts and the Dagster home."""
    return Path(os.environ.get("WIRING_HOME", DEFAULT_WIRING_HOME)).expanduser().resolve()


def pin_paths() -> dict[str, str]:
    """Resolve WIRING_HOME (default included) and DAGSTER_HOME to absolute paths, once.

    Called where a process starts the stack: its children (`dagster dev` runs the code
    location and the run workers in other working directories) inherit absolute paths,
    so they all find the same embedded server, imports folder and alerts file.
    """
    os.environ["WIRING_HOME"] = str(wiring_home())
    if os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(Path(os.environ["DAGSTER_HOME"]).expanduser().resolve())
    return {name: os.environ[name] for name in PATH_VARIABLES if name in os.environ}


def configured_database_url() -> str | None:
    """The application database the user named, or None for the embedded server."""
    return os.environ.get("WIRING_DATABASE_URL") or None


def alert_webhook_url() -> str | None:
    return os.environ.get("WIRING_ALERT_WEBHOOK_URL") or None


def imports_dir() -> Path:
    return wiring_home() / "imports"


def alerts_file() -> Path:
    return wiring_home() / "alerts.jsonl"
