"""`tenant`, `flow` and `import`: registering what the pipeline works on."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import click

from wiring_pipeline import settings
from wiring_pipeline.cli.common import (
    BadInput,
    echo_json,
    engine,
    read_partition,
    unit_of_work,
)
from wiring_pipeline.domain import registry
from wiring_pipeline.domain.tenancy import list_partition_keys


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


@click.group()
def flow() -> None:
    """Discovery flows and their field mappings."""


@flow.command("add")
@click.option("--partition", "partition_key", required=True, help="<client_slug>.<engagement_slug>")
@click.option(
    "--mappings",
    "mappings_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file of source column -> target field.",
)
@click.option("--name", "flow_name", help="A name to refer to the flow by.")
@click.option("--flow-id", type=click.UUID, help="Keep an existing flow_id (default: new).")
def flow_add(
    partition_key: str, mappings_file: Path, flow_name: str | None, flow_id: uuid.UUID | None
) -> None:
    """Add a discovery flow to a partition."""
    try:
        mappings = json.loads(mappings_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInput(f"{mappings_file}: not a JSON file: {error}") from error
    with unit_of_work(partition_key) as work:
        row = registry.add_flow(
            work.conn, work.scope, mappings, flow_name=flow_name, flow_id=flow_id
        )
    echo_json(
        {
            key: row[key]
            for key in (
                "id",
                "flow_id",
                "master_flow_id",
                "flow_name",
                "field_mappings_version_id",
                "field_mappings",
            )
        }
    )


@flow.command("list")
@click.option("--partition", "partition_key", required=True)
def flow_list(partition_key: str) -> None:
    """List a partition's discovery flows."""
    with read_partition(partition_key) as work:
        flows = registry.list_flows(work.conn, work.scope)
    echo_json(flows)


@click.command("import")
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
def import_file(
    file: Path, partition_key: str, flow_ref: str, sheet_name: str | None, encoding: str | None
) -> None:
    """Register FILE as a pending import of a partition (a copy is kept under WIRING_HOME).

    The file is checked first: readable, decodable, a header found, and every column the
    flow maps present (trimmed, any case). A file that fails exits 2, registering nothing.
    """
    with unit_of_work(partition_key) as work:
        flow_row = registry.find_flow(work.conn, work.scope, flow_ref)
        row = registry.register_import(
            work.conn,
            work.scope,
            flow_row,
            file,
            settings.imports_dir(),
            sheet_name=sheet_name,
            encoding=encoding,
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
            )
        }
    )
