"""`wiring-pipeline dev`: the Dagster UI and daemon on the project's PostgreSQL instance."""

from __future__ import annotations

import os
import sys

import click

from wiring_pipeline import settings
from wiring_pipeline.cli.common import engine
from wiring_pipeline.db import engines
from wiring_pipeline.resources import embedded


@click.command()
@click.option("--port", default=3000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
def dev(port: int, host: str) -> None:
    """Migrate the database, then run `dagster dev` (webserver and daemon)."""
    engines.upgrade(engine(migrated=False))
    env = embedded.prepare_dagster_environment()
    click.echo(f"DAGSTER_HOME={env['DAGSTER_HOME']}", err=True)
    workspace = settings.PROJECT_ROOT / "workspace.yaml"
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    args = [dagster, "dev", "-w", str(workspace), "-p", str(port), "-h", host]
    # From DAGSTER_HOME, so dagster does not warn that ./dagster.yaml is ignored: it is the
    # copy in DAGSTER_HOME that configures the instance.
    os.chdir(env["DAGSTER_HOME"])
    os.execvpe(args[0], args, os.environ)
