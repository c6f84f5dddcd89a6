"""Loading pending import files into raw import records: stream, check each row, COPY.

A file is read once, row by row, and streamed into `raw_import_records` with COPY on the
caller's connection (so inside the caller's transaction); nothing holds a whole file in
memory. A row that cannot be read becomes a rejected row with its reason and raw text;
a file that cannot be read at all fails its import and loads nothing, while the other
imports of the partition still load: each import streams inside a savepoint that the edge
owning the transaction sets (`db/import_loading.py`), since this module owns none.

The readers of each file format are in `sources/`. A row's number is where a person finds
it in the file (DESIGN 3d): the spreadsheet row, the CSV line its record starts on, the line
of JSON Lines, the element's place in a JSON array or among a document's records. Blank
lines are no rows but keep their numbers, so the numbers increase through a file with gaps.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import orjson
from psycopg import Copy
from sqlalchemy import Connection, text

from wiring_pipeline.domain.contract.fields import source_columns
from wiring_pipeline.domain.core.statistics import refresh_after_bulk_write
from wiring_pipeline.domain.core.tenancy import TenantScope, is_valid_partition_key, tenant_filter
from wiring_pipeline.domain.ingest.sources import (
    MAX_CELL_CHARS,
    SourceOptions,
    SourceRow,
    UnreadableFileError,
    open_source,
    visible,
)

__all__ = [
    "MAX_CELL_CHARS",
    "ImportLoadResult",
    "UnreadableImportError",
    "fail_import",
    "load_import",
    "lock_pending_imports",
    "pending_imports",
]

#: Raw records sent to COPY per write, or fewer once a batch holds COPY_BATCH_BYTES: rows of
#: a wide sheet whose every cell is a long shared string are megabytes each, and two batches
#: of them in memory must stay far below the pipeline's 500 MB.
COPY_BATCH_ROWS = 5_000
COPY_BATCH_BYTES = 8 << 20
#: How often the loader reports progress, in source rows.
PROGRESS_ROWS = 50_000
#: Told (file name, source rows read so far) while a file loads.
Progress = Callable[[str, int], None]

_COPY_RAW = (
    "COPY migration.raw_import_records"
    " (client_account_id, engagement_id, data_import_id, row_number, raw_data) FROM STDIN"
)
_COPY_REJECTED = (
    "COPY migration.import_rejected_rows"
    " (client_account_id, engagement_id, data_import_id, row_number, reason, raw_text)"
    " FROM STDIN"
)


@dataclass(frozen=True)
class ImportLoadResult:
    data_import_id: uuid.UUID
    filename: str
    status: str  # loaded | failed
    loaded_rows: int
    rejected_rows: int
    error: str | None = None

    def as_json(self) -> dict:
        return {
            "data_import_id": str(self.data_import_id),
            "filename": self.filename,
            "status": self.status,
            "loaded_rows": self.loaded_rows,
            "rejected_rows": self.rejected_rows,
            "error": self.error,
        }


# --- loader --------------------------------------------------------------------------------


def _copy_text(value: str) -> str:
    """A value escaped for COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _copy_document(cells: dict) -> bytes:
    """A row's cells as a JSON document escaped for COPY's text format.

    JSON escapes every control character inside strings and puts none between tokens, so
    only the backslash needs escaping for COPY. orjson refuses integers beyond 64 bits
    (a JSON source may hold them); those rows take the json module's slower road.
    """
    try:
        document = orjson.dumps(cells)
    except orjson.JSONEncodeError:
        document = json.dumps(cells, ensure_ascii=False).encode()
    return document.replace(b"\\", b"\\\\")


class _Sender:
    """Sends COPY batches from a thread of their own, one batch in flight at a time.

    Writing to the server's socket releases the GIL, so the next batch is read and encoded
    while the server inserts the last one (the load costs the slower of the two, not their
    sum); waiting for the batch in flight before sending another keeps memory to two
    batches however far ahead of the server the reader gets.
    """

    def __init__(self, copy: Copy) -> None:
        self._copy = copy
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="copy-sender")
        self._in_flight: Future | None = None

    def send(self, data: bytes) -> None:
        self._wait()
        self._in_flight = self._thread.submit(self._copy.write, data)

    def _wait(self) -> None:
        if self._in_flight is not None:
            self._in_flight.result()  # a failed write is raised here, in the caller
            self._in_flight = None

    def __enter__(self) -> _Sender:
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            if exc_info[0] is None:
                self._wait()
        finally:
            self._thread.shutdown(wait=True)


class UnreadableImportError(Exception):
    """The import's file turned out unreadable: what it streamed must be undone (the caller
    rolls back to its savepoint, `db/import_loading.py`) and the import marked failed."""


def lock_pending_imports(conn: Connection, scope: TenantScope) -> list:
    """The partition's pending imports, oldest first, locked for this unit of work."""
    return conn.execute(
        text(
            f"""
            SELECT d.id, d.filename, d.stored_path, d.file_format, d.sheet_name, d.encoding,
                   f.field_mappings, f.identity_key_columns, f.records_path
            FROM migration.data_imports d
            LEFT JOIN migration.discovery_flows f
              ON {tenant_filter("f")} AND f.id = d.discovery_flow_id
            WHERE {tenant_filter("d")} AND d.status = 'pending'
            ORDER BY d.created_at, d.id
            FOR UPDATE OF d
            """
        ),
        scope.as_params(),
    ).all()


def load_import(
    conn: Connection, scope: TenantScope, data_import, progress: Progress | None = None
) -> ImportLoadResult:
    """Stream one import into raw records and rejected rows, then mark it loaded.

    Rejected rows wait in a spooled temporary file (one connection cannot run two COPYs at
    once) and follow the raw records in a second COPY. A file found unreadable on the way
    raises `UnreadableImportError` once its COPY has ended cleanly.
    """
    filename = data_import.filename
    prefix = f"{scope.client_account_id}\t{scope.engagement_id}\t{data_import.id}\t"
    raw_prefix = prefix.encode()
    counts = {"loaded": 0, "rejected": 0}
    failures: list[str] = []
    read_as: dict[str, str | None] = {"encoding": None, "sheet_name": None}
    options = SourceOptions(
        data_import.file_format,
        data_import.encoding,
        data_import.sheet_name,
        source_columns(data_import.field_mappings, data_import.identity_key_columns),
        records_path=data_import.records_path,
    )

    def rows() -> Iterator[SourceRow]:
        # An unreadable file must end the COPY cleanly, not abort the transaction.
        try:
            if not data_import.stored_path:
                raise UnreadableFileError(f"{filename}: the import has no stored file")
            with open_source(Path(data_import.stored_path), filename, options) as source:
                read_as.update(encoding=source.encoding, sheet_name=source.sheet_name)
                yield from source.rows
        except UnreadableFileError as failure:
            # Whatever the reason and wherever in the file (`open_source` says it as one
            # line): this import fails alone; the partition's other imports load.
            failures.append(str(failure))

    driver = conn.connection.driver_connection
    with tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024) as rejects:
        with (
            driver.cursor() as cursor,
            cursor.copy(_COPY_RAW) as copy,
            _Sender(copy) as sender,
        ):
            batch: list[bytes] = []
            batch_bytes = 0
            for read, row in enumerate(rows(), start=1):
                if progress and read % PROGRESS_ROWS == 0:
                    progress(filename, read)
                if row.cells is None:
                    line = f"{prefix}{row.row_number}\t{_copy_text(visible(row.rejection or ''))}"
                    rejects.write(f"{line}\t{_copy_text(row.raw_text or '')}\n".encode())
                    counts["rejected"] += 1
                    continue
                line = b"%s%d\t%s\n" % (raw_prefix, row.row_number, _copy_document(row.cells))
                batch.append(line)
                batch_bytes += len(line)
                counts["loaded"] += 1
                if len(batch) >= COPY_BATCH_ROWS or batch_bytes >= COPY_BATCH_BYTES:
                    sender.send(b"".join(batch))
                    batch.clear()
                    batch_bytes = 0
            if batch:
                sender.send(b"".join(batch))
        if failures:
            raise UnreadableImportError(failures[0])
        if counts["rejected"]:
            rejects.seek(0)
            with driver.cursor() as cursor, cursor.copy(_COPY_REJECTED) as copy:
                for block in iter(lambda: rejects.read(1 << 20), b""):
                    copy.write(block)
    refresh_after_bulk_write(conn, "raw_import_records", counts["loaded"])
    conn.execute(
        text(
            f"""
            UPDATE migration.data_imports
            SET status = 'loaded', loaded_rows = :loaded, rejected_rows = :rejected,
                total_records = :loaded + :rejected, error = NULL, loaded_at = now(),
                encoding = COALESCE(encoding, :encoding),
                sheet_name = COALESCE(sheet_name, :sheet_name)
            WHERE {tenant_filter()} AND id = :id
            """
        ),
        {**scope.as_params(), "id": data_import.id, **counts, **read_as},
    )
    return ImportLoadResult(
        data_import.id, filename, "loaded", counts["loaded"], counts["rejected"]
    )


def fail_import(conn: Connection, scope: TenantScope, data_import, error: str) -> ImportLoadResult:
    """Mark the import failed and say why, once what it streamed has been rolled back."""
    params = {**scope.as_params(), "id": data_import.id, "error": error}
    conn.execute(
        text(
            f"""
            UPDATE migration.data_imports
            SET status = 'failed', error = :error, loaded_rows = 0, rejected_rows = 0,
                total_records = 0, loaded_at = NULL
            WHERE {tenant_filter()}
              AND id = :id
            """
        ),
        params,
    )
    return ImportLoadResult(data_import.id, data_import.filename, "failed", 0, 0, error)


def pending_imports(conn: Connection) -> list[tuple[str, uuid.UUID]]:
    """(partition key, import id) of every pending import whose partition key is valid.

    An instance-wide question (the sensor asks it for every partition at once), so it
    filters on no tenant.
    """
    rows = conn.execute(
        text(
            """
            SELECT c.slug || '.' || e.slug AS partition_key, d.id
            FROM migration.data_imports d
            JOIN migration.engagements e
              ON e.id = d.engagement_id AND e.client_account_id = d.client_account_id
            JOIN migration.client_accounts c ON c.id = d.client_account_id
            WHERE d.status = 'pending'
            ORDER BY partition_key, d.created_at, d.id
            """
        )
    ).all()
    return [
        (row.partition_key, row.id) for row in rows if is_valid_partition_key(row.partition_key)
    ]
