"""`flow add | suggest | list | update | remove`: the discovery flows of a partition, as specs.

A flow is given as a JSON spec (`--mappings`: flat `{column: field}` or the whole form with
units, constants, key, sheet and records path) or made from a file's suggestion (`--from`),
plus `--set FIELD=VALUE` constants. Every command prints the flow (or what it did) as JSON
on stdout; a suggestion's warnings go to stderr.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import click

from wiring_pipeline.cli.common import BadInput, echo_json, read_partition, unit_of_work
from wiring_pipeline.cli.flow_suggest import suggest
from wiring_pipeline.domain.contract.flow_spec import spec_of
from wiring_pipeline.domain.ingest import flows
from wiring_pipeline.domain.ingest.suggest_file import suggest_for_file
from wiring_pipeline.domain.inventory.build import rederive_assets

_SETS = click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FIELD=VALUE",
    help="A constant for a field the source lacks, e.g. asset_type=virtual_machine (repeatable).",
)
_KEY = click.option(
    "--key",
    "identity_key",
    multiple=True,
    help="Source column identifying an asset across re-imports (repeatable; default: the "
    "spec's key, else the column mapped to hostname, else to name).",
)
_MAPPINGS_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def flow() -> None:
    """Discovery flows: what each source column means, in which unit, and what is missing."""


flow.add_command(suggest)


def _read_spec(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInput(f"{path}: not a JSON file: {error}") from error


def _shown(row: dict) -> dict:
    return {
        "id": row["id"],
        "flow_id": row["flow_id"],
        "master_flow_id": row["master_flow_id"],
        "flow_name": row["flow_name"],
        "field_mappings_version_id": row["field_mappings_version_id"],
        "field_mappings": row["field_mappings"],
        "identity_key_columns": row["identity_key_columns"],
        "precedence": row["precedence"],
        "spec": spec_of(row).as_json(),
    }


_PRECEDENCE = click.option(
    "--precedence",
    type=click.IntRange(-1_000_000, 1_000_000),
    help="Rank against the other sources of one machine, lower wins (default at add: after "
    "the flows already added).",
)


@flow.command("add")
@click.option("--partition", "partition_key", required=True, help="<client_slug>.<engagement_slug>")
@click.option(
    "--mappings",
    "mappings_file",
    type=_MAPPINGS_FILE,
    help="JSON spec: {column: field}, or the whole form as `flow suggest` prints it.",
)
@click.option(
    "--from",
    "from_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Make the spec from this export, as `flow suggest FILE` proposes it.",
)
@click.option("--sheet", help="With --from: the worksheet of an .xlsx file.")
@click.option(
    "--name", "flow_name", help="A name to refer to the flow by (unique in the partition)."
)
@click.option("--flow-id", type=click.UUID, help="Keep an existing flow_id (default: new).")
@_PRECEDENCE
@_KEY
@_SETS
def flow_add(
    partition_key: str,
    mappings_file: Path | None,
    from_file: Path | None,
    sheet: str | None,
    flow_name: str | None,
    flow_id: uuid.UUID | None,
    identity_key: tuple[str, ...],
    sets: tuple[str, ...],
    precedence: int | None,
) -> None:
    """Add a discovery flow to a partition.

    Refused (exit 2, nothing written) when the spec neither maps nor sets a critical field
    (name, asset_type, environment): every row would be rejected at run.
    """
    if (mappings_file is None) == (from_file is None):
        raise BadInput("give the flow's spec with either --mappings FILE or --from EXPORT")
    if sheet is not None and from_file is None:
        raise BadInput("--sheet goes with --from")
    header = None
    if from_file is not None:
        suggestion = suggest_for_file(from_file, sheet)
        for warning in suggestion.warnings:
            click.echo(f"warning: {warning}", err=True)
        document = suggestion.spec.as_json()
        header = [proposal.column for proposal in suggestion.columns]
    else:
        document = _read_spec(mappings_file)
    with unit_of_work(partition_key) as work:
        row = flows.add_flow(
            work.conn,
            work.scope,
            document,
            flow_name=flow_name,
            flow_id=flow_id,
            identity_key=identity_key,
            sets=sets,
            header=header,
            precedence=precedence,
        )
    echo_json(_shown(row))


@flow.command("list")
@click.option("--partition", "partition_key", required=True)
def flow_list(partition_key: str) -> None:
    """List a partition's flows with their specs and current assets."""
    with read_partition(partition_key) as work:
        listed = flows.list_flows(work.conn, work.scope)
    echo_json(listed)


@flow.command("update")
@click.option("--partition", "partition_key", required=True)
@click.option("--flow", "flow_ref", required=True, help="The flow's flow_id, id or name.")
@click.option("--mappings", "mappings_file", type=_MAPPINGS_FILE, help="A new JSON spec.")
@_PRECEDENCE
@_KEY
@_SETS
def flow_update(
    partition_key: str,
    flow_ref: str,
    mappings_file: Path | None,
    precedence: int | None,
    identity_key: tuple[str, ...],
    sets: tuple[str, ...],
) -> None:
    """Make a new mappings version of a flow; the next run cleanses its open and rejected
    records again with it. A new precedence (or per-field precedence in the spec) derives the
    assets several sources describe again at once, from the stored values."""
    document = _read_spec(mappings_file) if mappings_file is not None else None
    with unit_of_work(partition_key) as work:
        row, requeued = flows.update_flow(
            work.conn,
            work.scope,
            flow_ref,
            mappings=document,
            sets=sets,
            identity_key=identity_key,
            precedence=precedence,
        )
        rederived = rederive_assets(work.conn, work.scope)
    echo_json({**_shown(row), "records_requeued": requeued, "assets_rederived": rederived})


@flow.command("remove")
@click.option("--partition", "partition_key", required=True)
@click.option("--flow", "flow_ref", required=True, help="The flow's flow_id, id or name.")
@click.option(
    "--retire-assets",
    is_flag=True,
    help="Retire the flow's current assets (otherwise a flow with current assets is kept).",
)
def flow_remove(partition_key: str, flow_ref: str, retire_assets: bool) -> None:
    """Remove a flow: its assets keep their links; it takes no more imports. An asset other
    sources still describe stays, derived again from them."""
    with unit_of_work(partition_key) as work:
        done = flows.remove_flow(work.conn, work.scope, flow_ref, retire_assets=retire_assets)
        done["assets_rederived"] = rederive_assets(work.conn, work.scope)
    echo_json(done)
