"""`wiring-pipeline inventory`: page through a partition's assets, or export them all.

`inventory --partition KEY` lists (as it always did); `inventory export` writes the
deliverable. A click group that also runs without a subcommand keeps both.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wiring_pipeline.cli.common import BadInput, echo_json, read_partition
from wiring_pipeline.domain.inventory.export import FORMATS, export_bytes, inventory_frame
from wiring_pipeline.domain.inventory.listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE,
    list_inventory_assets,
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
    """Every asset of the partition with import file, source row number, flow, mapping hash
    and current record: the inventory as handed over."""
    if fmt == "xlsx" and output is None:
        raise BadInput("--format xlsx writes a binary file: give --output FILE")
    with read_partition(partition_key) as work:
        frame = inventory_frame(work.conn, work.scope, include_retired=include_retired)
    content = export_bytes(frame, fmt)
    if output is None:
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return
    output.write_bytes(content)
    click.echo(f"wrote {len(frame):,} assets to {output}", err=True)
