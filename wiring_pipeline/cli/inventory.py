"""`wiring-pipeline inventory`: page through a partition's inventory assets."""

from __future__ import annotations

import click

from wiring_pipeline.cli.common import echo_json, read_partition
from wiring_pipeline.domain.inventory_listing import (
    DEFAULT_PAGE_SIZE,
    list_inventory_assets,
)


@click.command()
@click.option("--partition", "partition_key", required=True, help="<client_slug>.<engagement_slug>")
@click.option(
    "--all", "all_methods", is_flag=True, help="Every discovery method, not only flow-based."
)
@click.option("--page", type=int, default=1, show_default=True)
@click.option("--page-size", type=int, default=DEFAULT_PAGE_SIZE, show_default=True)
def inventory(partition_key: str, all_methods: bool, page: int, page_size: int) -> None:
    """List inventory assets of a partition (flow-based only unless --all); at most 200 a page."""
    with read_partition(partition_key) as work:
        listing = list_inventory_assets(
            work.conn, work.scope, all_methods=all_methods, page=page, page_size=page_size
        )
    if listing.notice:
        click.echo(f"note: {listing.notice}", err=True)
    echo_json(listing.as_json())
