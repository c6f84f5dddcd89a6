"""Registering what the pipeline works on: client accounts, engagements, flows and imports."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import Connection, insert, or_, select

from wiring_pipeline.domain.errors import UserInputError
from wiring_pipeline.domain.fields import validate_field_mappings
from wiring_pipeline.domain.schema import (
    client_accounts,
    data_imports,
    discovery_flows,
    engagements,
)
from wiring_pipeline.domain.sources import SourceOptions, UnreadableFileError, sniff_source
from wiring_pipeline.domain.tenancy import (
    TenancyError,
    TenantScope,
    parse_partition_key,
    resolve_scope,
)

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
    again is not an error, so scripts can be re-run.
    """
    parsed = parse_partition_key(partition_key)
    created = False
    client_id = conn.execute(
        select(client_accounts.c.id).where(client_accounts.c.slug == parsed.client_slug)
    ).scalar_one_or_none()
    if client_id is None:
        client_id = conn.execute(
            insert(client_accounts)
            .values(slug=parsed.client_slug, name=client_name or parsed.client_slug)
            .returning(client_accounts.c.id)
        ).scalar_one()
        created = True
    engagement_id = conn.execute(
        select(engagements.c.id).where(
            engagements.c.client_account_id == client_id,
            engagements.c.slug == parsed.engagement_slug,
        )
    ).scalar_one_or_none()
    if engagement_id is None:
        conn.execute(
            insert(engagements).values(
                client_account_id=client_id,
                slug=parsed.engagement_slug,
                name=engagement_name or parsed.engagement_slug,
            )
        )
        created = True
    return resolve_scope(conn, partition_key), created


def add_flow(
    conn: Connection,
    scope: TenantScope,
    mappings: object,
    *,
    flow_name: str | None = None,
    flow_id: uuid.UUID | None = None,
    master_flow_id: uuid.UUID | None = None,
) -> dict:
    """Create a discovery flow of the partition with validated field mappings."""
    checked = validate_field_mappings(mappings)
    row = conn.execute(
        insert(discovery_flows)
        .values(
            flow_id=flow_id or uuid.uuid4(),
            master_flow_id=master_flow_id or uuid.uuid4(),
            client_account_id=scope.client_account_id,
            engagement_id=scope.engagement_id,
            flow_name=flow_name,
            field_mappings=checked,
            field_mappings_version_id=uuid.uuid4(),
        )
        .returning(*discovery_flows.c)
    ).one()
    return dict(row._mapping)


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
            discovery_flows.c.client_account_id == scope.client_account_id,
            discovery_flows.c.engagement_id == scope.engagement_id,
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
            discovery_flows.c.client_account_id == scope.client_account_id,
            discovery_flows.c.engagement_id == scope.engagement_id,
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
) -> dict:
    """Register a pending import of `source` for the flow, keeping a copy under `imports_root`.

    The file is checked first (DESIGN 3c): readable, decodable, a header found, and every
    column the flow maps present; otherwise RegistryError and nothing is registered. The
    encoding and worksheet the check settled on are recorded for the loader. The copy is
    what the loader reads, so moving or editing the original afterwards loses nothing; it
    is removed again if the registration itself fails.
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
    options = SourceOptions(fmt, encoding, sheet_name, tuple(flow["field_mappings"] or ()))
    try:
        sniffed = sniff_source(source, readable_name(source.name), options)
    except UnreadableFileError as error:
        raise RegistryError(str(error)) from error
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
            )
            .returning(*data_imports.c)
        ).one()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return dict(row._mapping)
