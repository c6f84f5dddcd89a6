"""`tenant` and `import`: registering what the pipeline works on (flows: `flows.py`)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import click
from click_default_group import DefaultGroup

from wiring_pipeline import settings
from wiring_pipeline.cli.common import (
    BadInput,
    echo_json,
    engine,
    unit_of_work,
)
from wiring_pipeline.db.import_check import check_import
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
@click.option(
    "--check",
    is_flag=True,
    help="Check the whole file as a run would take it and write nothing: one JSON line per "
    "problem on stdout; exit 1 when a row would not reach the inventory.",
)
@click.option(
    "--errors-file",
    "errors_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --check: write the file's rows again, in its format, with an error column.",
)
def import_file(
    file: Path,
    partition_key: str,
    flow_ref: str,
    sheet_name: str | None,
    encoding: str | None,
    partial: bool,
    check: bool,
    errors_path: Path | None,
) -> None:
    """Register FILE as a pending import of a partition (a copy is kept under WIRING_HOME).

    The file is checked first: readable, decodable, a header found, and every column the
    flow maps present (trimmed, any case). A file that fails exits 2, registering nothing.
    A file identical to an earlier import of the flow registers nothing: the earlier import
    is printed with `duplicate_of`.

    With --check the file is read to its end, loaded and cleansed as a run would, and all
    of it rolled back: each problem is a JSON line `{"row", "column", "code", "message",
    "rejected"}`, the row as the file shows it.
    """
    if errors_path is not None and not check:
        raise BadInput("--errors-file goes with --check")
    if check:
        _check_file(file, partition_key, flow_ref, sheet_name, encoding, errors_path)
        return
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


def _check_file(
    file: Path,
    partition_key: str,
    flow_ref: str,
    sheet_name: str | None,
    encoding: str | None,
    errors_path: Path | None,
) -> None:
    """`import --check`: problems on stdout as they are found, the tally on stderr."""
    outcome = check_import(
        engine(),
        partition_key,
        flow_ref,
        file,
        on_problem=lambda problem: click.echo(json.dumps(problem.as_json(), ensure_ascii=False)),
        sheet_name=sheet_name,
        encoding=encoding,
        errors_path=errors_path,
        progress=lambda name, rows: click.echo(f"check: {name}: {rows:,} rows read", err=True),
    )
    click.echo(
        f"check: {outcome.filename}: {outcome.rows:,} rows, {outcome.rejected_rows:,} would "
        f"not reach the inventory, {outcome.problems:,} problems; nothing was written"
        + (f" but the errors file {errors_path}" if errors_path is not None else ""),
        err=True,
    )
    if not outcome.complete:
        raise click.ClickException(
            f"{outcome.rejected_rows:,} of {outcome.rows:,} rows of {outcome.filename} would "
            "not reach the inventory"
        )


@import_group.command("discard")
@click.argument("import_id", type=click.UUID)
@click.option("--partition", "partition_key", required=True, help="<client_slug>.<engagement_slug>")
def import_discard(import_id: uuid.UUID, partition_key: str) -> None:
    """Drop the pending import IMPORT_ID: it will never load (its stored copy is kept)."""
    with unit_of_work(partition_key) as work:
        row = registry.discard_import(work.conn, work.scope, import_id)
    echo_json({key: row[key] for key in ("id", "filename", "status", "error")})
