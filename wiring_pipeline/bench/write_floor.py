"""The write floor: the pipeline's final rows of a partition, written once with binary COPY.

The SQL floor (`floor.py`) repeats the pipeline's passes by hand, so it pays what they pay:
each raw record is written by the load and rewritten by the link (DESIGN 1). The write floor
is what leaving the same rows behind costs at the least: every final row of the partition
(its source rows, candidates and conflicts included) written once, in PostgreSQL's binary
COPY format, into empty tables with the same columns, defaults, constraints and indexes
(`LIKE … INCLUDING ALL`; foreign keys are not copied by LIKE), in one transaction, commit
included. The pipeline's end to end over this time says how far it is from the physical cost
of its output.

The rows travel through files under the benchmark's working directory, block by block, so a
partition of a million records (1-2 GB of COPY data) never sits in this process's memory.
Only the write is timed: copying out, creating the tables and dropping them are set-up.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql
from sqlalchemy import Connection, Engine

from wiring_pipeline.domain.core.tenancy import TenantScope

#: Every table the pipeline's stages write rows of a partition into.
TABLES = (
    "raw_import_records",
    "cleansed_record_archive",
    "assets",
    "asset_sources",
    "match_candidates",
    "asset_conflicts",
    "import_rejected_rows",
    "asset_history",
    "wiring_health_snapshots",
)
#: The schema of the empty copies of the tables; it is dropped, with them, afterwards.
SCRATCH_SCHEMA = "bench_write_floor"

_BLOCK = 1 << 20


@dataclass(frozen=True)
class WriteFloor:
    """The timed write, and how many rows of each table it wrote."""

    seconds: float
    rows_per_table: dict[str, int]


def copy_out(conn: Connection, scope: TenantScope, directory: Path) -> dict[str, Path]:
    """Stream each table's rows of the partition to a file of binary COPY data."""
    files = {}
    with conn.connection.driver_connection.cursor() as cursor:
        for table in TABLES:
            path = files[table] = directory / f"{table}.copy"
            query = sql.SQL(
                "COPY (SELECT * FROM migration.{} WHERE client_account_id = %(client_account_id)s"
                " AND engagement_id = %(engagement_id)s) TO STDOUT (FORMAT binary)"
            ).format(sql.Identifier(table))
            with cursor.copy(query, scope.as_params()) as copy, path.open("wb") as handle:
                for block in copy:
                    handle.write(block)
    return files


def create_scratch_tables(conn: Connection) -> None:
    """The scratch schema with an empty table `LIKE` each of `TABLES`, indexes included."""
    schema = sql.Identifier(SCRATCH_SCHEMA)
    with conn.connection.driver_connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        for table in TABLES:
            name = sql.Identifier(table)
            cursor.execute(
                sql.SQL("CREATE TABLE {}.{} (LIKE migration.{} INCLUDING ALL)").format(
                    schema, name, name
                )
            )


def drop_scratch_tables(conn: Connection) -> None:
    """The scratch schema and its tables, so the run's database is left as it was."""
    with conn.connection.driver_connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SCRATCH_SCHEMA)))


def write(conn: Connection, files: dict[str, Path]) -> dict[str, int]:
    """COPY each file into its scratch table; returns the rows each COPY wrote."""
    rows = {}
    with conn.connection.driver_connection.cursor() as cursor:
        for table, path in files.items():
            query = sql.SQL("COPY {}.{} FROM STDIN (FORMAT binary)").format(
                sql.Identifier(SCRATCH_SCHEMA), sql.Identifier(table)
            )
            with cursor.copy(query) as copy, path.open("rb") as handle:
                for block in iter(lambda: handle.read(_BLOCK), b""):
                    copy.write(block)
            rows[table] = cursor.rowcount
    return rows


def measure(
    engine: Engine, scope: TenantScope, workdir: Path, progress: Callable[[str], None]
) -> WriteFloor:
    """Copy the partition's rows out, then time writing them once; leaves nothing behind."""
    directory = workdir / "write-floor"
    directory.mkdir(parents=True)
    try:
        progress("write floor: copy the pipeline's rows out")
        with engine.connect() as conn:
            files = copy_out(conn, scope, directory)
        with engine.begin() as conn:
            create_scratch_tables(conn)
        try:
            progress("write floor: write them once")
            started = time.perf_counter()
            with engine.begin() as conn:
                rows = write(conn, files)
            seconds = time.perf_counter() - started
        finally:
            with engine.begin() as conn:
                drop_scratch_tables(conn)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return WriteFloor(seconds, rows)
