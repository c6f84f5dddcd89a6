"""The deliverable: a partition's inventory as a spreadsheet, each asset with its provenance.

What the consultants hand over is the inventory; what makes it defensible is that every
row says where it came from: the import file and source row of its current raw record,
the discovery flow, and the hash of the field mappings that shaped it. A legacy asset
with a broken link exports with those cells empty rather than disappearing, so the
spreadsheet shows the same gaps the wiring metrics count.
"""

from __future__ import annotations

import io
import re
from typing import Literal

import pandas as pd
from sqlalchemy import Connection, text

from wiring_pipeline.domain.contract.states import RETIRED_PHASE
from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter

ExportFormat = Literal["csv", "xlsx"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: Excel's sheet limit, header row included.
XLSX_MAX_ROWS = 1_048_575

PROVENANCE_COLUMNS = (
    "import_file",
    "source_row_number",
    "flow_id",
    "flow_name",
    "mapping_hash",
    "current_record_id",
)


_EXPORT_SQL = f"""
SELECT a.id AS asset_id, a.name, a.asset_type, a.environment, a.hostname, a.ip_address,
       a.operating_system, a.os_version, a.owner, a.location, a.application_name,
       a.criticality, a.discovery_method, a.current_phase,
       d.filename AS import_file, r.row_number AS source_row_number,
       a.discovery_flow_id AS flow_id, f.flow_name,
       a.field_mappings_used AS mapping_hash, a.raw_import_records_id AS current_record_id,
       a.created_at, a.updated_at
FROM migration.assets a
LEFT JOIN migration.raw_import_records r
       ON {tenant_filter("r")} AND r.id = a.raw_import_records_id
LEFT JOIN migration.data_imports d
       ON {tenant_filter("d")} AND d.id = r.data_import_id
LEFT JOIN migration.discovery_flows f
       ON {tenant_filter("f")} AND f.id = a.discovery_flow_id
WHERE {tenant_filter("a")}
  AND (:include_retired OR a.current_phase IS DISTINCT FROM '{RETIRED_PHASE}')
ORDER BY a.created_at, a.id
"""

#: A cell a spreadsheet would run as a formula (OWASP "CSV injection"): `=`, `@`, and
#: `+`/`-` unless the text is a plain number.
_FORMULA = re.compile(r"^(?:[=@\t\r]|[+-](?![\d.]+$))")


class ExportError(UserInputError):
    """An export that cannot be written (unknown format, too many rows for a sheet)."""


def inventory_frame(
    conn: Connection, scope: TenantScope, *, include_retired: bool = False
) -> pd.DataFrame:
    """Every asset of the partition with its provenance, oldest first."""
    frame = pd.read_sql_query(
        text(_EXPORT_SQL), conn, params={**scope.as_params(), "include_retired": include_retired}
    )
    for column in ("asset_id", "flow_id", "current_record_id"):
        frame[column] = frame[column].map(lambda v: str(v) if v is not None else None)
    frame["source_row_number"] = frame["source_row_number"].astype("Int64")
    for column in ("created_at", "updated_at"):
        # Spreadsheets have no time zones: export UTC, and say so in the header.
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_convert(None)
    return frame.rename(columns={"created_at": "created_at_utc", "updated_at": "updated_at_utc"})


def _neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text that starts like a formula gets a leading apostrophe, as spreadsheets show it."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if not (pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)):
            continue
        text_values = values.astype("string")
        risky = text_values.str.match(_FORMULA.pattern, na=False).astype(bool)
        if risky.any():
            safe[column] = values.astype(object).where(~risky, "'" + text_values)
    return safe


def export_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """The frame as a file a spreadsheet opens: UTF-8 CSV with a BOM, or one XLSX sheet."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    safe = _neutralise_formulas(frame)
    if fmt == "csv":
        return safe.to_csv(index=False).encode("utf-8-sig")
    if len(safe) > XLSX_MAX_ROWS:
        raise ExportError(
            f"{len(safe):,} assets do not fit one spreadsheet sheet ({XLSX_MAX_ROWS:,} rows):"
            " export as csv"
        )
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        safe.to_excel(writer, index=False, sheet_name="inventory")
    return buffer.getvalue()
