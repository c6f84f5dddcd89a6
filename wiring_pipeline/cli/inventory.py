"""`wiring-pipeline inventory`: page through a partition's assets, or export them all.

`inventory --partition KEY` lists (as it always did); `inventory export` writes the
deliverable; `coverage`, `conflicts` and `matches` show what reconciling the sources found.
A click group that also runs without a subcommand keeps them all.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import click

from wiring_pipeline.cli.common import BadInput, echo_json, read_partition
from wiring_pipeline.domain.inventory.export import FORMATS, export_inventory
from wiring_pipeline.domain.inventory.listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE,
    list_inventory_assets,
)
from wiring_pipeline.domain.inventory.reconciliation_report import (
    MAX_ROWS,
    conflicts,
    coverage,
    match_candidates,
)


@click.group(invoke_without_command=True)
@click.option("--partition", "partition_key", help="<client_slug>.<engagement_slug>")
@click.option(
    "--all", "all_methods", is_flag=True, help="Every discovery method, not only flow-based."
)
@click.option("--include-retired", is_flag=True, help="Also assets gone from the source.")
@click.option("--page", type=click.IntRange(1, MAX_PAGE), default=1, show_default=True)
@click.option(
    "--page-size",
    type=click.IntRange(min=1),
    default=DEFAULT_PAGE_SIZE,
    show_default=True,
    help="Cut to 200 (with a note).",
)
@click.pass_context
def inventory(
    ctx: click.Context,
    partition_key: str | None,
    all_methods: bool,
    include_retired: bool,
    page: int,
    page_size: int,
) -> None:
    """List inventory assets of a partition (flow-based only unless --all); at most 200 a page.

    `inventory export` writes every asset with its provenance to CSV or XLSX.
    """
    if ctx.invoked_subcommand is not None:
        return
    if partition_key is None:
        raise BadInput("give --partition KEY (or use `inventory export`)")
    with read_partition(partition_key) as work:
        listing = list_inventory_assets(
            work.conn,
            work.scope,
            all_methods=all_methods,
            page=page,
            page_size=page_size,
            include_retired=include_retired,
        )
    if listing.notice:
        click.echo(f"note: {listing.notice}", err=True)
    echo_json(listing.as_json())


@inventory.command("export")
@click.option("--partition", "partition_key", required=True, help="<client_slug>.<engagement_slug>")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write here (default: stdout for csv; xlsx needs a file).",
)
@click.option("--include-retired", is_flag=True, help="Also assets gone from the source.")
def inventory_export(
    partition_key: str, fmt: str, output: Path | None, include_retired: bool
) -> None:
    """Every asset of the partition with every inventory field, and import file, source row
    number, flow, mapping hash and current record: the inventory as handed over.

    Written as it is read, in one read transaction; memory does not grow with the
    partition."""
    if fmt == "xlsx" and output is None:
        raise BadInput("--format xlsx writes a binary file: give --output FILE")
    with read_partition(partition_key) as work:
        if output is None:
            export_inventory(
                work.conn, work.scope, fmt, sys.stdout.buffer, include_retired=include_retired
            )
            sys.stdout.buffer.flush()
            return
        with _replacing(output) as target:
            count = export_inventory(
                work.conn, work.scope, fmt, target, include_retired=include_retired
            )
    click.echo(f"wrote {count:,} assets to {output}", err=True)


@contextmanager
def _replacing(output: Path) -> Iterator[BinaryIO]:
    """A file beside `output` that takes its place once the export is whole: a refused or
    interrupted export leaves `output` as it was (nothing written, DESIGN 3c). Opened as
    `open` makes files, so the export gets the permissions a plain write would give it."""
    staged = output.with_name(f".{output.name}.{secrets.token_hex(4)}.partial")
    try:
        with staged.open("xb") as handle:
            yield handle
        os.replace(staged, output)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


_PARTITION = click.option(
    "--partition", "partition_key", required=True, help="<client_slug>.<engagement_slug>"
)
_LIMIT = click.option("--limit", type=click.IntRange(1, MAX_ROWS), default=100, show_default=True)


@inventory.command("coverage")
@_PARTITION
def inventory_coverage(partition_key: str) -> None:
    """How many current assets each combination of sources describes, with samples: the
    servers the CMDB does not know, the CMDB entries nothing runs (DESIGN 3e)."""
    with read_partition(partition_key) as work:
        echo_json(coverage(work.conn, work.scope))


@inventory.command("conflicts")
@_PARTITION
@_LIMIT
def inventory_conflicts(partition_key: str, limit: int) -> None:
    """Fields on which an asset's sources disagree: every source's value and the one kept."""
    with read_partition(partition_key) as work:
        echo_json(conflicts(work.conn, work.scope, limit))


@inventory.command("matches")
@_PARTITION
@_LIMIT
def inventory_matches(partition_key: str, limit: int) -> None:
    """Possible matches across sources that the rules left for a person to decide."""
    with read_partition(partition_key) as work:
        echo_json(match_candidates(work.conn, work.scope, limit))
