"""`wiring-pipeline health`: the source plan's wiring health endpoint, as a command.

The exit code is the verdict, so scripts and CI can gate on it: 0 healthy, 1 unhealthy,
2 when the partition cannot be measured at all (bad key, unknown tenant).

`--all` reads every partition on one connection, in one read-only REPEATABLE READ
transaction (one consistent picture of the instance: work committed while it runs shows in
no chunk, rather than in the later chunks only), a chunk of partitions per statement;
`--format jsonl` prints each partition's line as soon as its chunk is measured, so ten
thousand partitions stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import click
from sqlalchemy import Connection

from wiring_pipeline.cli.common import BadInput, echo_json, measure_health, read_snapshot
from wiring_pipeline.domain.core.tenancy import list_partition_scopes
from wiring_pipeline.domain.health.fleet import chunked, measure_partitions, with_samples
from wiring_pipeline.domain.health.measure import WiringHealth

EXIT_UNHEALTHY = 1


@click.command()
@click.option("--partition", "partition_key", help="<client_slug>.<engagement_slug>")
@click.option("--all", "all_partitions", is_flag=True, help="Every partition.")
@click.option("--detail", is_flag=True, help="Add up to 5 sample rows per non-zero metric.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "jsonl"]),
    default="json",
    show_default=True,
    help="json: one document (a list with --all); jsonl: one line per partition, streamed.",
)
@click.option("--unhealthy", is_flag=True, help="With --all: only the unhealthy partitions.")
@click.pass_context
def health(
    ctx: click.Context,
    partition_key: str | None,
    all_partitions: bool,
    detail: bool,
    output_format: str,
    unhealthy: bool,
) -> None:
    """Wiring health of a partition: metrics, health_status, tenant, samples."""
    if bool(partition_key) == all_partitions:
        raise BadInput("give exactly one of --partition KEY or --all")
    if unhealthy and not all_partitions:
        raise BadInput("--unhealthy filters --all; with --partition the exit code says it")
    if not all_partitions:
        report = measure_health(partition_key, detail=detail)
        _emit([report.as_json()], output_format, single=True)
        ctx.exit(0 if report.health_status == "healthy" else EXIT_UNHEALTHY)
    any_unhealthy = False
    with read_snapshot() as conn:
        reports = []
        for report in _every_partition(conn, detail):
            any_unhealthy |= report.health_status != "healthy"
            if unhealthy and report.health_status == "healthy":
                continue
            if output_format == "jsonl":
                _emit([report.as_json()], output_format)
            else:
                reports.append(report.as_json())
    if output_format == "json":
        _emit(reports, output_format)
    ctx.exit(EXIT_UNHEALTHY if any_unhealthy else 0)


def _every_partition(conn: Connection, detail: bool) -> Iterator[WiringHealth]:
    for chunk in chunked(list_partition_scopes(conn)):
        for measured in measure_partitions(conn, chunk):
            yield with_samples(conn, measured) if detail else measured


def _emit(reports: list[dict], output_format: str, single: bool = False) -> None:
    if output_format == "jsonl":
        for report in reports:
            click.echo(json.dumps(report, default=str))
    else:
        echo_json(reports[0] if single else reports)
