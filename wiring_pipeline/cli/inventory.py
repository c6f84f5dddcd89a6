"""`wiring-pipeline inventory`: page through a partition's assets, or export them all.

`inventory --partition KEY` lists (as it always did); `inventory export` writes the
deliverable; `coverage`, `conflicts` and `matches` show what reconciling the sources found,
and `merge`, `split` and `undo` correct it.
A click group that also runs without a subcommand keeps them all.
"""

from __future__ import annotations

import os
import secrets
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import click

from wiring_pipeline.cli.common import BadInput, echo_json, read_partition, unit_of_work
from wiring_pipeline.domain.ingest import flows
from wiring_pipeline.domain.inventory.corrections import merge_assets, split_asset, undo_correction
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
    number, flow, mapping hash, current record and sources: the inventory as handed over.
    What the sources disagree on goes to a `conflicts` sheet (xlsx) or, with --output, to
    `<output stem>.conflicts.csv` beside it.

    Written as it is read, in one read transaction; memory does not grow with the
    partition."""
    if fmt == "xlsx" and output is None:
        raise BadInput("--format xlsx writes a binary file: give --output FILE")
    options = {"include_retired": include_retired}
    with read_partition(partition_key) as work:
        if output is None:
            click.echo(
                "note: the conflicts are not written to stdout: give --output FILE.csv to"
                " also get FILE.conflicts.csv",
                err=True,
            )
            export_inventory(work.conn, work.scope, fmt, sys.stdout.buffer, **options)
            sys.stdout.buffer.flush()
            return
        if fmt == "xlsx":
            with _replacing(output) as target:
                exported = export_inventory(work.conn, work.scope, fmt, target, **options)
            where = "on its conflicts sheet"
        else:
            beside = output.with_name(f"{output.stem}.conflicts.csv")
            with _replacing(output) as target, _replacing(beside) as conflicts_target:
                exported = export_inventory(
                    work.conn, work.scope, fmt, target, conflicts_out=conflicts_target, **options
                )
            where = f"to {beside}"
    click.echo(
        f"wrote {exported.assets:,} assets to {output}, {exported.conflicts:,} "
        f"conflict{'' if exported.conflicts == 1 else 's'} {where}",
        err=True,
    )


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


@inventory.command("merge")
@_PARTITION
@click.argument("keep", type=click.UUID)
@click.argument("other", type=click.UUID)
def inventory_merge(partition_key: str, keep: uuid.UUID, other: uuid.UUID) -> None:
    """Make asset OTHER part of asset KEEP: one machine (a match candidate confirmed).

    Its sources, records and history move to KEEP, which is derived again from all of
    them; `inventory undo ID` puts both back."""
    with unit_of_work(partition_key) as work:
        echo_json(merge_assets(work.conn, work.scope, keep, other))


@inventory.command("split")
@_PARTITION
@click.argument("asset", type=click.UUID)
@click.option(
    "--flow", "flow_ref", required=True, help="The source to take off: flow_id, id or name."
)
def inventory_split(partition_key: str, asset: uuid.UUID, flow_ref: str) -> None:
    """Take one source's record off ASSET as a machine of its own (a wrong match undone);
    later runs keep them apart. `inventory undo ID` joins them again."""
    with unit_of_work(partition_key) as work:
        flow = flows.find_flow(work.conn, work.scope, flow_ref)
        echo_json(split_asset(work.conn, work.scope, asset, flow["id"]))


@inventory.command("undo")
@_PARTITION
@click.argument("correction_id", type=click.IntRange(1))
def inventory_undo(partition_key: str, correction_id: int) -> None:
    """Undo merge or split CORRECTION_ID exactly (refused if its sources changed since)."""
    with unit_of_work(partition_key) as work:
        echo_json(undo_correction(work.conn, work.scope, correction_id))
