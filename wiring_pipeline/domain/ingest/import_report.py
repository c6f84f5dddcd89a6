"""What became of each row of an import: the accounting `run` prints after its job.

Source rows = loaded raw records + rows rejected at load; a loaded record then becomes an
inventory asset, or is rejected in cleansing, or waits (unprocessed). Every figure is
counted from the database, set-based, for the imports asked about.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, text

from wiring_pipeline.domain.contract.states import REJECTED_PREFIX
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter

_RECORDS = f"""FROM migration.raw_import_records r
    WHERE {tenant_filter("r")} AND r.data_import_id = d.id"""

_REPORT_SQL = text(
    f"""
    SELECT d.id, d.filename, d.status, d.error, d.encoding, d.sheet_name,
           coalesce(d.loaded_rows, 0) AS loaded_rows,
           coalesce(d.rejected_rows, 0) AS rejected_rows,
           (SELECT jsonb_object_agg(reason, n) FROM (
                SELECT x.reason, count(*) AS n FROM migration.import_rejected_rows x
                WHERE {tenant_filter("x")} AND x.data_import_id = d.id
                GROUP BY 1) AS s) AS rejected_by_reason,
           (SELECT jsonb_object_agg(notes, n) FROM (
                SELECT r.processing_notes AS notes, count(*) AS n
                {_RECORDS} AND r.is_processed AND r.asset_id IS NULL
                  AND r.processing_notes LIKE '{REJECTED_PREFIX}%'
                GROUP BY 1) AS s) AS rejected_in_cleansing,
           (SELECT jsonb_object_agg(label, n) FROM (
                SELECT i.key || ': ' || (i.value ->> 'reason') AS label, count(*) AS n
                FROM migration.raw_import_records r
                JOIN migration.cleansed_record_archive c
                  ON {tenant_filter("c")} AND c.raw_import_record_id = r.id
                CROSS JOIN LATERAL jsonb_each(c.cleansed_values -> '_invalid') AS i
                WHERE {tenant_filter("r")} AND r.data_import_id = d.id
                GROUP BY 1) AS s) AS invalid_values,
           (SELECT count(*) {_RECORDS} AND r.asset_id IS NOT NULL) AS in_inventory,
           (SELECT count(*) {_RECORDS} AND NOT r.is_processed) AS unprocessed
    FROM migration.data_imports d
    WHERE {tenant_filter("d")} AND d.id IN :ids
    ORDER BY d.created_at, d.id
    """
).bindparams(bindparam("ids", expanding=True))


@dataclass(frozen=True)
class ImportReport:
    data_import_id: uuid.UUID
    filename: str
    status: str
    error: str | None
    encoding: str | None
    sheet_name: str | None
    loaded_rows: int
    rejected_rows: int
    rejected_by_reason: dict[str, int]
    rejected_in_cleansing: dict[str, int]
    invalid_values: dict[str, int]
    #: The import's records linked to an asset: the ones that created it, and the ones that
    #: joined another source's machine (DESIGN 3e) or replaced an earlier record of it.
    in_inventory: int
    unprocessed: int

    @property
    def source_rows(self) -> int:
        return self.loaded_rows + self.rejected_rows

    def as_json(self) -> dict:
        return {
            "data_import_id": str(self.data_import_id),
            **{k: v for k, v in self.__dict__.items() if k != "data_import_id"},
            "source_rows": self.source_rows,
        }


def import_reports(
    conn: Connection, scope: TenantScope, import_ids: list[uuid.UUID]
) -> list[ImportReport]:
    """The accounting of each of the given imports of the partition, oldest first."""
    if not import_ids:
        return []
    rows = conn.execute(_REPORT_SQL, {**scope.as_params(), "ids": list(import_ids)}).all()
    return [
        ImportReport(
            row.id,
            row.filename,
            row.status,
            row.error,
            row.encoding,
            row.sheet_name,
            row.loaded_rows,
            row.rejected_rows,
            dict(row.rejected_by_reason or {}),
            dict(row.rejected_in_cleansing or {}),
            dict(row.invalid_values or {}),
            row.in_inventory,
            row.unprocessed,
        )
        for row in rows
    ]


def pending_import_ids(conn: Connection, scope: TenantScope) -> list[uuid.UUID]:
    """The partition's imports waiting to be loaded, oldest first."""
    return list(
        conn.execute(
            text(
                f"""
                SELECT d.id FROM migration.data_imports d
                WHERE {tenant_filter("d")} AND d.status = 'pending'
                ORDER BY d.created_at, d.id
                """
            ),
            scope.as_params(),
        ).scalars()
    )
