"""The `wiring-pipeline` command group."""

from __future__ import annotations

import click

from wiring_pipeline import settings
from wiring_pipeline.cli.backfill import backfill
from wiring_pipeline.cli.bench import bench
from wiring_pipeline.cli.bench_api import bench_api
from wiring_pipeline.cli.common import (
    EXIT_INTERRUPTED,
    INTERRUPTED_MESSAGE,
    BadInput,
    RetryLater,
)
from wiring_pipeline.cli.constraints import constraints
from wiring_pipeline.cli.db import db
from wiring_pipeline.cli.demo import demo
from wiring_pipeline.cli.dev import dev
from wiring_pipeline.cli.flows import flow
from wiring_pipeline.cli.health import health
from wiring_pipeline.cli.inventory import inventory
from wiring_pipeline.cli.registry import import_group, tenant
from wiring_pipeline.cli.run import run
from wiring_pipeline.cli.serve import serve
from wiring_pipeline.cli.token import token
from wiring_pipeline.domain.core.errors import RetryLaterError, UserInputError


class WiringGroup(click.Group):
    """The root group: absolute paths for every child process, the domain's two error kinds
    as exit codes 2 and 1 (the one place they are caught), and a one-line Ctrl-C."""

    def invoke(self, ctx: click.Context):
        settings.pin_paths()
        try:
            return super().invoke(ctx)
        except UserInputError as error:
            raise BadInput(str(error)) from error
        except RetryLaterError as error:
            raise RetryLater(str(error)) from error
        except KeyboardInterrupt:
            # Every unit of work is one transaction: an interrupt rolls the open one back.
            click.echo(INTERRUPTED_MESSAGE, err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=WiringGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Multi-tenant migration discovery: CMDB imports -> linked inventory, with proven wiring.

    The database is WIRING_DATABASE_URL, or an embedded PostgreSQL under WIRING_HOME.
    """


for command in (
    db,
    tenant,
    flow,
    import_group,
    run,
    health,
    inventory,
    backfill,
    constraints,
    demo,
    dev,
    bench,
    bench_api,
    serve,
    token,
):
    cli.add_command(command)
