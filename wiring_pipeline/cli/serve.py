"""`wiring-pipeline serve`: the HTTP API (DESIGN 4a) under uvicorn."""

from __future__ import annotations

import click
from alembic.script import ScriptDirectory

from wiring_pipeline.cli.common import BadInput, engine
from wiring_pipeline.db import engines
from wiring_pipeline.resources import embedded


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--access-log", is_flag=True, help="Log every request (off: it costs CPU).")
def serve(host: str, port: int, access_log: bool) -> None:
    """Serve the wiring health, inventory and export of each partition, and /metrics.

    Every route but /healthz wants `Authorization: Bearer <token>` (`token create`).
    It logs in to PostgreSQL as `wiring_api`, never as the tables' owner:
    WIRING_API_DATABASE_URL, or the embedded server's own `wiring_api` login.
    """
    from wiring_pipeline.api.server import serve as run_server

    head = ScriptDirectory.from_config(engines.alembic_config()).get_current_head()
    current = engines.current_revision(engine())
    if current != head:
        raise BadInput(
            f"the database is at revision {current}, the API needs {head}:"
            " run `wiring-pipeline db upgrade`"
        )
    run_server(embedded.api_database_url(), host, port, access_log=access_log)
