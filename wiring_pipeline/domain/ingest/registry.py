"""Registering what the pipeline works on: client accounts, engagements, flows and imports."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import Connection, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from wiring_pipeline.domain.contract.fields import source_columns, validate_field_mappings
from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.core.schema import (
    client_accounts,
    data_imports,
    discovery_flows,
    engagements,
)
from wiring_pipeline.domain.core.tenancy import (
    TenancyError,
    TenantScope,
    parse_partition_key,
    resolve_scope,
)
from wiring_pipeline.domain.ingest.sources import SourceOptions, UnreadableFileError, sniff_source

#: File endings the loader reads, and the format each one means.
IMPORT_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "xlsx",
}


class RegistryError(UserInputError):
    """A registration the pipeline refuses, with the reason."""


def add_tenant(
    conn: Connection,
    partition_key: str,
    client_name: str | None = None,
    engagement_name: str | None = None,
) -> tuple[TenantScope, bool]:
    """Create the client account (if new) and the engagement of a partition key.

    Returns the scope and whether anything was created; adding an existing engagement
    again is not an error, so scripts can be re-run. Two adds of one key at once give the
    same answers as one after the other (the later one finds the rows, `created` false):
    each row is an `INSERT … ON CONFLICT DO NOTHING` on its unique key, which waits for a
    concurrent insert of that key and then yields to it, where a read-then-insert would
    fail on the unique constraint. The names given apply to rows this call creates.
    """
    parsed = parse_partition_key(partition_key)
    client_id = conn.execute(
        pg_insert(client_accounts)
        .values(slug=parsed.client_slug, name=client_name or parsed.client_slug)
        .on_conflict_do_nothing(index_elements=[client_accounts.c.slug])
        .returning(client_accounts.c.id)
    ).scalar_one_or_none()
    client_created = client_id is not None
    if client_id is None:
        client_id = conn.execute(
            select(client_accounts.c.id).where(client_accounts.c.slug == parsed.client_slug)
        ).scalar_one()
    engagement_id = conn.execute(
        pg_insert(engagements)
        .values(
            client_account_id=client_id,
            slug=parsed.engagement_slug,
            name=engagement_name or parsed.engagement_slug,
        )
        .on_conflict_do_nothing(
            index_elements=[engagements.c.client_account_id, engagements.c.slug]
        )
        .returning(engagements.c.id)
    ).scalar_one_or_none()
    return resolve_scope(conn, partition_key), client_created or engagement_id is not None


def add_flow(
    conn: Connection,
    scope: TenantScope,
    mappings: object,
    *,
    flow_name: str | None = None,
    flow_id: uuid.UUID | None = None,
    master_flow_id: uuid.UUID | None = None,
    identity_key: list[str] | tuple[str, ...] = (),
) -> dict:
    """Create a discovery flow of the partition with validated field mappings.

    `identity_key` names the source column(s) identifying an asset across imports; by
    default the column mapped to `hostname`, else the one mapped to `name` (DESIGN 3a).

    A `flow_id` the partition already has is refused with one line (RegistryError). The
    refusal comes from the unique key itself (`ON CONFLICT DO NOTHING`), not from a read
    beforehand, so two adds of one flow_id at once cannot both pass a check: the later
    waits for the earlier and is refused, and neither ends in a constraint violation.
    """
    checked = validate_field_mappings(mappings)
    key_columns = identity_key_columns(checked, identity_key)
    flow_id = flow_id or uuid.uuid4()
    row = conn.execute(
        pg_insert(discovery_flows)
        .values(
            flow_id=flow_id,
            master_flow_id=master_flow_id or uuid.uuid4(),
            client_account_id=scope.client_account_id,
            engagement_id=scope.engagement_id,
            flow_name=flow_name,
            field_mappings=checked,
            field_mappings_version_id=uuid.uuid4(),
            identity_key_columns=key_columns,
        )
        .on_conflict_do_nothing(
            index_elements=[
                discovery_flows.c.client_account_id,
                discovery_flows.c.engagement_id,
                discovery_flows.c.flow_id,
            ]
        )
        .returning(*discovery_flows.c)
    ).one_or_none()
    if row is None:
        raise RegistryError(
            f"partition {scope.partition_key!r} already has a flow with flow_id {flow_id}"
        )
    return dict(row._mapping)


def identity_key_columns(
    mappings: dict[str, str], explicit: list[str] | tuple[str, ...]
) -> list[str]:
    """The flow's identity key: the columns given, or the source of `hostname`, else of `name`."""
    if explicit:
        blank = [column for column in explicit if not str(column).strip()]
        if blank:
            raise RegistryError("an identity key column name is empty")
        if len(set(explicit)) != len(explicit):
            raise RegistryError(f"identity key column(s) given twice: {', '.join(explicit)}")
        return [str(column) for column in explicit]
    by_target = {target: source for source, target in mappings.items()}
    for target in ("hostname", "name"):
        if target in by_target:
            return [by_target[target]]
    raise RegistryError(
        "the mappings map no column to `hostname` or `name`: give the identity key with --key"
    )


def find_flow(conn: Connection, scope: TenantScope, flow: str) -> dict:
    """A flow of the partition by its `flow_id`, its row id, or its name."""
    conditions = [discovery_flows.c.flow_name == flow]
    try:
        as_uuid = uuid.UUID(flow)
    except ValueError:
        pass
    else:
        conditions += [discovery_flows.c.flow_id == as_uuid, discovery_flows.c.id == as_uuid]
    rows = conn.execute(
        select(*discovery_flows.c).where(
            *scope.where(discovery_flows),
            or_(*conditions),
        )
    ).all()
    if not rows:
        raise RegistryError(f"partition {scope.partition_key!r} has no discovery flow {flow!r}")
    if len(rows) > 1:
        raise RegistryError(
            f"partition {scope.partition_key!r} has {len(rows)} flows named {flow!r}; "
            "give its flow_id instead"
        )
    return dict(rows[0]._mapping)


def list_flows(conn: Connection, scope: TenantScope) -> list[dict]:
    """The partition's flows, oldest first: flow_id, flow_name and row id."""
    rows = conn.execute(
        select(discovery_flows.c.flow_id, discovery_flows.c.flow_name, discovery_flows.c.id)
        .where(
            *scope.where(discovery_flows),
        )
        .order_by(discovery_flows.c.created_at)
    ).all()
    return [dict(row._mapping) for row in rows]


def readable_name(path: Path | str) -> str:
    """A file's name as text the database and a terminal accept.

    A name from a Windows share is often Windows-1252 bytes (`Export_M\\xfcller.csv`), which
    Python keeps as lone surrogates that neither PostgreSQL nor a UTF-8 terminal takes.
    """
    raw = os.fsencode(str(path))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def detect_format(path: Path) -> str:
    fmt = IMPORT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RegistryError(
            f"{readable_name(path.name)}: unsupported file type {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(sorted(IMPORT_FORMATS))}"
        )
    return fmt


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def register_import(
    conn: Connection,
    scope: TenantScope,
    flow: dict,
    source: Path,
    imports_root: Path,
    *,
    sheet_name: str | None = None,
    import_name: str | None = None,
    encoding: str | None = None,
    partial: bool = False,
) -> dict:
    """Register a pending import of `source` for the flow, keeping a copy under `imports_root`.

    The file is checked first (DESIGN 3c): readable, decodable, a header found, and every
    column the flow maps or keys on present; otherwise RegistryError and nothing is
    registered. The encoding and worksheet the check settled on are recorded for the loader.
    The copy is what the loader reads, so moving or editing the original afterwards loses
    nothing; it is removed again if the registration itself fails.

    A file whose SHA-256 equals an earlier import of the same partition and flow (and the
    same worksheet) registers nothing: the earlier import is returned with `duplicate_of`
    (DESIGN 3a), so importing the same export twice cannot double anything. An earlier
    import that failed does not count: it put nothing into the inventory. A `partial`
    export retires no asset.
    """
    if flow["client_account_id"] != scope.client_account_id or (
        flow["engagement_id"] != scope.engagement_id
    ):
        raise TenancyError(f"flow {flow['flow_id']} does not belong to {scope.partition_key!r}")
    source = Path(source)
    if not source.is_file():
        raise RegistryError(f"{readable_name(source)}: no such file")
    fmt = detect_format(source)
    if sheet_name is not None and fmt != "xlsx":
        raise RegistryError(f"{readable_name(source.name)}: --sheet applies to .xlsx files only")
    if encoding is not None and fmt == "xlsx":
        raise RegistryError(f"{readable_name(source.name)}: --encoding applies to text files only")
    columns = source_columns(flow["field_mappings"], flow.get("identity_key_columns"))
    options = SourceOptions(fmt, encoding, sheet_name, columns)
    try:
        sniffed = sniff_source(source, readable_name(source.name), options)
    except UnreadableFileError as error:
        raise RegistryError(str(error)) from error
    digest = sha256_of(source)
    earlier = _earlier_identical_import(conn, scope, flow, digest, sniffed.sheet_name)
    if earlier is not None:
        return {**earlier, "duplicate_of": earlier["id"]}
    import_id = uuid.uuid4()
    target_dir = imports_root / scope.client_slug / scope.engagement_slug
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{import_id}{source.suffix.lower()}"
    shutil.copyfile(source, target)
    try:
        row = conn.execute(
            insert(data_imports)
            .values(
                id=import_id,
                client_account_id=scope.client_account_id,
                engagement_id=scope.engagement_id,
                import_name=import_name or readable_name(source.name),
                filename=readable_name(source.name),
                status="pending",
                discovery_flow_id=flow["id"],
                stored_path=str(target),
                file_format=fmt,
                sheet_name=sniffed.sheet_name,
                encoding=sniffed.encoding,
                source_sha256=sha256_of(target),
                is_partial=partial,
            )
            .returning(*data_imports.c)
        ).one()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return dict(row._mapping)


def _earlier_identical_import(
    conn: Connection, scope: TenantScope, flow: dict, digest: str, sheet_name: str | None
) -> dict | None:
    """The flow's first import of these bytes (and of the same worksheet), unless it failed."""
    row = conn.execute(
        select(*data_imports.c)
        .where(
            *scope.where(data_imports),
            data_imports.c.discovery_flow_id == flow["id"],
            data_imports.c.source_sha256 == digest,
            data_imports.c.sheet_name.is_not_distinct_from(sheet_name),
            data_imports.c.status != "failed",
        )
        .order_by(data_imports.c.created_at, data_imports.c.id)
        .limit(1)
    ).first()
    return None if row is None else dict(row._mapping)
