"""`wiring-pipeline health`: the source plan's wiring health endpoint, as a command.

The exit code is the verdict, so scripts and CI can gate on it: 0 healthy, 1 unhealthy,
2 when the partition cannot be measured at all (bad key, unknown tenant).
"""

from __future__ import annotations

import click

from wiring_pipeline.cli.common import BadInput, echo_json, engine, measure_health
from wiring_pipeline.domain.tenancy import list_partition_keys

EXIT_UNHEALTHY = 1


@click.command()
@click.option("--partition", "partition_key", help="<client_slug>.<engagement_slug>")
@click.option("--all", "all_partitions", is_flag=True, help="Every partition (a JSON list).")
@click.option("--detail", is_flag=True, help="Add up to 5 sample rows per non-zero metric.")
@click.pass_context
def health(
    ctx: click.Context, partition_key: str | None, all_partitions: bool, detail: bool
) -> None:
    """Wiring health of a partition: metrics, health_status, tenant, samples."""
    if bool(partition_key) == all_partitions:
        raise BadInput("give exactly one of --partition KEY or --all")
    if all_partitions:
        with engine().connect() as conn:
            keys = list_partition_keys(conn)
    else:
        keys = [partition_key]
    reports = [measure_health(key, detail=detail) for key in keys]
    echo_json([r.as_json() for r in reports] if all_partitions else reports[0].as_json())
    if any(r.health_status != "healthy" for r in reports):
        ctx.exit(EXIT_UNHEALTHY)
