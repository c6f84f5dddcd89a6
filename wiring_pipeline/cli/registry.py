"""`tenant` and `import`: registering what the pipeline works on (flows: `flows.py`)."""

from __future__ import annotations

import uuid
from pathlib import Path

import click
from click_default_group import DefaultGroup

from wiring_pipeline import settings
from wiring_pipeline.cli.common import (
    echo_json,
    engine,
    unit_of_work,
)
from wiring_pipeline.domain.core.tenancy import list_partition_keys
from wiring_pipeline.domain.ingest import flows, registry


@click.group()
def tenant() -> None:
    """Client accounts and their engagements (one partition each)."""


@tenant.command("add")
@click.argument("partition_key")
@click.option("--client-name", help="Display name of the client account.")
@click.option("--engagement-name", help="Display name of the engagement.")
def tenant_add(partition_key: str, client_name: str | None, engagement_name: str | None) -> None:
    """Add the engagement PARTITION_KEY (`<client_slug>.<engagement_slug>`)."""
    with engine().begin() as conn:
        scope, created = registry.add_tenant(conn, partition_key, client_name, engagement_name)
    echo_json({**scope.as_json(), "created": created})


@tenant.command("list")
def tenant_list() -> None:
    """List every partition key."""
    with engine().connect() as conn:
        for key in list_partition_keys(conn):
            click.echo(key)


@click.group("import", cls=DefaultGroup, default="file", default_if_no_args=False)
def import_group() -> None:
    """Register an export as a pending import (`import FILE …`), or drop a pending one
    (`import discard ID`)."""


@import_group.command("file")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--partition", "partition_key", required=True, help="<client_slug>.<engagement_slug>")
@click.option("--flow", "flow_ref", required=True, help="The flow's flow_id, id or name.")
@click.option(
    "--sheet",
    "sheet_name",
    help="Worksheet of an .xlsx file (default: the first visible one holding the mapped columns).",
)
@click.option(
    "--encoding",
    help="Text encoding of the file, e.g. cp1250 (default: detected from the bytes).",
)
@click.option(
    "--partial",
    is_flag=True,
    help="The file is not a full export: assets absent from it are not retired.",
)
def import_file(
    file: Path,
    partition_key: str,
    flow_ref: str,
    sheet_name: str | None,
    encoding: str | None,
    partial: bool,
) -> None:
    """Register FILE as a pending import of a partition (a copy is kept under WIRING_HOME).

    The file is checked first: readable, decodable, a header found, and every column the
    flow maps present (trimmed, any case). A file that fails exits 2, registering nothing.
    A file identical to an earlier import of the flow registers nothing: the earlier import
    is printed with `duplicate_of`.
    """
    with unit_of_work(partition_key) as work:
        flow_row = flows.find_flow(work.conn, work.scope, flow_ref)
        row = registry.register_import(
            work.conn,
            work.scope,
            flow_row,
            file,
            settings.imports_dir(),
            sheet_name=sheet_name,
            encoding=encoding,
            partial=partial,
        )
    echo_json(
        {
            key: row[key]
            for key in (
                "id",
                "filename",
                "file_format",
                "encoding",
                "sheet_name",
                "status",
                "stored_path",
                "source_sha256",
                "is_partial",
            )
        }
        | ({"duplicate_of": row["duplicate_of"]} if "duplicate_of" in row else {})
    )
    if "duplicate_of" in row:
        click.echo(
            f"note: identical to import {row['duplicate_of']} of this flow; nothing registered",
            err=True,
        )


@import_group.command("discard")
@click.argument("import_id", type=click.UUID)
@click.option("--partition", "partition_key", required=True, help="<client_slug>.<engagement_slug>")
def import_discard(import_id: uuid.UUID, partition_key: str) -> None:
    """Drop the pending import IMPORT_ID: it will never load (its stored copy is kept)."""
    with unit_of_work(partition_key) as work:
        row = registry.discard_import(work.conn, work.scope, import_id)
    echo_json({key: row[key] for key in ("id", "filename", "status", "error")})
