"""Where the project keeps its state, read from the environment at call time.

Reading lazily (not at import) lets tests and the CLI point one process at another
`WIRING_HOME` or database without re-importing anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from wiring_pipeline.domain.core.errors import UserInputError

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


#: Set by an orchestrator in every container it starts, never on a workstation. There a
#: database started inside the container would live and die with the pod, or the task: a
#: restart would lose the inventory, and every run pod would have a server of its own.
ORCHESTRATOR_VARIABLES = {
    "KUBERNETES_SERVICE_HOST": "Kubernetes",
    "ECS_CONTAINER_METADATA_URI_V4": "Amazon ECS",
    "ECS_CONTAINER_METADATA_URI": "Amazon ECS",
    "NOMAD_ALLOC_ID": "Nomad",
    "K_SERVICE": "Cloud Run",
    "CLOUD_RUN_JOB": "Cloud Run",
    "CONTAINER_APP_NAME": "Azure Container Apps",
    "DAGSTER_CLOUD_DEPLOYMENT_NAME": "Dagster+",
}
#: `1` allows the embedded server even under an orchestrator, `0` forbids it everywhere.
EMBEDDED_DATABASE_VARIABLE = "WIRING_EMBEDDED_DATABASE"
_YES = ("1", "true", "yes", "on")
_NO = ("0", "false", "no", "off")


class EmbeddedServerRefused(UserInputError):
    """No database URL where the embedded server must not stand in; says what to set."""


def orchestrator() -> tuple[str, str] | None:
    """(orchestrator, variable that gave it away) when one runs this process, else None."""
    for variable, name in ORCHESTRATOR_VARIABLES.items():
        if os.environ.get(variable):
            return name, variable
    return None


def refuse_embedded_server(missing: str) -> None:
    """Raise unless the embedded PostgreSQL may stand in for the unset `missing` URL.

    Allowed by default on a workstation (`make demo`, `make dev`, the tests), refused by
    default under an orchestrator, where it would silently put the data inside one pod;
    `WIRING_EMBEDDED_DATABASE` overrides both ways.
    """
    choice = os.environ.get(EMBEDDED_DATABASE_VARIABLE, "").strip().lower()
    if choice in _YES:
        return
    if choice and choice not in _NO:
        raise EmbeddedServerRefused(
            f"{EMBEDDED_DATABASE_VARIABLE}={choice!r} is neither 1 nor 0: set it to 1 to allow "
            f"the embedded PostgreSQL, 0 to forbid it, or unset it"
        )
    found = orchestrator()
    if choice in _NO:
        where = f"{EMBEDDED_DATABASE_VARIABLE}=0 forbids the embedded PostgreSQL"
    elif found is not None:
        where = (
            f"this process runs under {found[0]} ({found[1]} is set), where an embedded "
            "PostgreSQL would keep the data inside this container"
        )
    else:
        return
    raise EmbeddedServerRefused(
        f"{missing} is not set and {where}: set {missing} to the database's URL "
        f"(or {EMBEDDED_DATABASE_VARIABLE}=1 to start an embedded server here on purpose)"
    )


def configured_database_url() -> str | None:
    """The application database the user named, or None for the embedded server.

    Every resolution of the application URL (the Dagster resource, the command line, the
    API) asks here first, so this is where an embedded server is refused when it must not
    stand in: then it raises `EmbeddedServerRefused` instead of returning None.
    """
    url = os.environ.get("WIRING_DATABASE_URL") or None
    if url is None:
        refuse_embedded_server("WIRING_DATABASE_URL")
    return url


def alert_webhook_url() -> str | None:
    return os.environ.get("WIRING_ALERT_WEBHOOK_URL") or None


def imports_dir() -> Path:
    return wiring_home() / "imports"


def alerts_file() -> Path:
    return wiring_home() / "alerts.jsonl"
