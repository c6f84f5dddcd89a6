"""Registering what the pipeline works on: client accounts, engagements and imports.

The flows of a partition are `flows.py`'s.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from wiring_pipeline.domain.contract.fields import source_columns
from wiring_pipeline.domain.contract.flow_spec import spec_of
from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.core.schema import (
    client_accounts,
    data_imports,
    engagements,
)
from wiring_pipeline.domain.core.tenancy import (
    TenancyError,
    TenantScope,
    parse_partition_key,
    resolve_scope,
)
from wiring_pipeline.domain.ingest.flows import check_critical
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


#: The status of an import dropped before it was loaded (`import discard`).
DISCARDED = "discarded"


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


def _copy_hashing(source: Path, target: Path) -> str:
    """Copy `source` to `target` in one read, returning the SHA-256 of the bytes copied."""
    digest = hashlib.sha256()
    with source.open("rb") as reading, target.open("xb") as writing:
        for block in iter(lambda: reading.read(1 << 20), b""):
            digest.update(block)
            writing.write(block)
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

    The file is read once, into a staged copy beside its stored place while it is hashed,
    and every check reads that copy (DESIGN 3f): readable, decodable, a header found, every
    column the flow maps or keys on present, the limits kept (DESIGN 3c); otherwise
    RegistryError and nothing is registered. So what was checked, hashed and stored is one
    set of bytes, even if the original is replaced meanwhile, and moving or editing the
    original afterwards loses nothing. The encoding and worksheet the check settled on are
    recorded for the loader. A refused file, a duplicate or a registration that fails leaves
    no copy behind.

    A file whose SHA-256 equals an earlier import of the same partition and flow (and the
    same worksheet) registers nothing: the earlier import is returned with `duplicate_of`
    (DESIGN 3a), so importing the same export twice cannot double anything. An earlier
    import that failed does not count: it put nothing into the inventory. A `partial`
    export retires no asset; registering again, as `partial`, the file of an import that
    holds its retirements (DESIGN 3f) says it was not a full export after all.
    """
    if flow["client_account_id"] != scope.client_account_id or (
        flow["engagement_id"] != scope.engagement_id
    ):
        raise TenancyError(f"flow {flow['flow_id']} does not belong to {scope.partition_key!r}")
    source = Path(source)
    if not source.is_file():
        raise RegistryError(f"{readable_name(source)}: no such file")
    fmt = detect_format(source)
    filename = readable_name(source.name)
    if sheet_name is not None and fmt != "xlsx":
        raise RegistryError(f"{filename}: --sheet applies to .xlsx files only")
    if encoding is not None and fmt == "xlsx":
        raise RegistryError(f"{filename}: --encoding applies to text files only")
    spec = spec_of(flow)
    if sheet_name is None and fmt == "xlsx":
        sheet_name = spec.sheet
    columns = source_columns(spec.mappings, list(spec.identity_key))
    options = SourceOptions(fmt, encoding, sheet_name, columns, records_path=spec.records_path)
    import_id = uuid.uuid4()
    target_dir = imports_root / scope.client_slug / scope.engagement_slug
    target_dir.mkdir(parents=True, exist_ok=True)
    suffix = source.suffix.lower()
    target = target_dir / f"{import_id}{suffix}"
    # The staged copy keeps the file's ending: openpyxl opens a workbook by its name.
    staged = target_dir / f".{import_id}.partial{suffix}"
    try:
        try:
            digest = _copy_hashing(source, staged)
        except OSError as error:
            raise RegistryError(f"{filename}: could not be copied in: {error.strerror}") from error
        try:
            sniffed = sniff_source(staged, filename, options)
        except UnreadableFileError as error:
            raise RegistryError(str(error)) from error
        check_critical(spec, sniffed.columns)
        earlier = _earlier_identical_import(conn, scope, flow, digest, sniffed.sheet_name)
        if earlier is not None:
            staged.unlink()
            if partial and earlier["retirement_held"]:
                earlier = _declare_partial(conn, scope, earlier["id"])
            return {**earlier, "duplicate_of": earlier["id"]}
        staged.replace(target)
        row = conn.execute(
            insert(data_imports)
            .values(
                id=import_id,
                client_account_id=scope.client_account_id,
                engagement_id=scope.engagement_id,
                import_name=import_name or filename,
                filename=filename,
                status="pending",
                discovery_flow_id=flow["id"],
                stored_path=str(target),
                file_format=fmt,
                sheet_name=sniffed.sheet_name,
                encoding=sniffed.encoding,
                source_sha256=digest,
                is_partial=partial,
            )
            .returning(*data_imports.c)
        ).one()
    except BaseException:
        staged.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        raise
    return dict(row._mapping)


def discard_import(conn: Connection, scope: TenantScope, import_id: uuid.UUID) -> dict:
    """Drop a pending import: it will never load. Its stored copy stays, as the record of
    what was registered; a loaded or failed import is refused (nothing to drop)."""
    row = conn.execute(
        update(data_imports)
        .where(
            *scope.where(data_imports),
            data_imports.c.id == import_id,
            data_imports.c.status == "pending",
        )
        .values(status=DISCARDED, error="discarded before it was loaded")
        .returning(*data_imports.c)
    ).one_or_none()
    if row is not None:
        return dict(row._mapping)
    status = conn.execute(
        select(data_imports.c.status).where(
            *scope.where(data_imports), data_imports.c.id == import_id
        )
    ).scalar_one_or_none()
    if status is None:
        raise RegistryError(f"partition {scope.partition_key!r} has no import {import_id}")
    raise RegistryError(f"import {import_id} is {status}, not pending: there is nothing to discard")


def _declare_partial(conn: Connection, scope: TenantScope, import_id: uuid.UUID) -> dict:
    """An import holding its retirements is partial after all: it will retire nothing."""
    row = conn.execute(
        update(data_imports)
        .where(*scope.where(data_imports), data_imports.c.id == import_id)
        .values(is_partial=True, retirement_held=None)
        .returning(*data_imports.c)
    ).one()
    return dict(row._mapping)


def confirm_retirement(conn: Connection, scope: TenantScope, import_id: uuid.UUID) -> dict:
    """A person says the import's held retirements are right: the next inventory step
    applies them (`run --confirm-retire IMPORT_ID`, DESIGN 3f)."""
    row = conn.execute(
        update(data_imports)
        .where(
            *scope.where(data_imports),
            data_imports.c.id == import_id,
            data_imports.c.retirement_held > 0,
        )
        .values(retirement_confirmed_at=func.now())
        .returning(data_imports.c.id, data_imports.c.filename, data_imports.c.retirement_held)
    ).one_or_none()
    if row is None:
        raise RegistryError(
            f"import {import_id} of {scope.partition_key!r} holds no retirement to confirm"
        )
    return {"import_id": str(row.id), "filename": row.filename, "retirements": row.retirement_held}


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
            data_imports.c.status.not_in(("failed", DISCARDED)),
        )
        .order_by(data_imports.c.created_at, data_imports.c.id)
        .limit(1)
    ).first()
    return None if row is None else dict(row._mapping)
