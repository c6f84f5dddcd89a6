"""`wiring-pipeline db ...`: the database's URL, migrations and the embedded server."""

from __future__ import annotations

import click

from wiring_pipeline.cli.common import engine
from wiring_pipeline.db import engines
from wiring_pipeline.resources import embedded


@click.group()
def db() -> None:
    """The application database: URL, migrations, embedded server."""


@db.command()
@click.option("--dagster", "for_dagster", is_flag=True, help="Print the Dagster storage URL.")
def url(for_dagster: bool) -> None:
    """Print the database URL in use (starting the embedded server if needed)."""
    click.echo(
        embedded.dagster_storage_url() if for_dagster else embedded.application_database_url()
    )


@db.command()
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """Migrate the `migration` schema up to a revision."""
    eng = engine(migrated=False)
    engines.upgrade(eng, revision)
    click.echo(f"migration schema at {engines.current_revision(eng)}")


@db.command()
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Migrate the `migration` schema down to REVISION (`base` removes it all)."""
    eng = engine(migrated=False)
    engines.downgrade(eng, revision)
    click.echo(f"migration schema at {engines.current_revision(eng) or 'base'}")


@db.command()
def stop() -> None:
    """Stop the embedded PostgreSQL server under WIRING_HOME."""
    click.echo("stopped" if embedded.stop_embedded_server() else "not running")
