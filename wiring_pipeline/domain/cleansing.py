"""Cleansing raw records with their discovery flow's field mappings, in SQL.

The cleansing runs inside PostgreSQL, one statement per flow of the partition: the flow's
mappings become one expression per target field, so a million records never travel to
Python and back. Each record gets the plan's minimal summary in `cleansed_data`; the
full cleansed values go to `cleansed_record_archive`, where the inventory step reads
them. A record missing a critical field is rejected there and then: processed, with no
asset and a `Rejected:` note saying which fields are missing.

Cleansing rules by field kind (`fields.INVENTORY_FIELDS`): every value is trimmed and its
runs of whitespace (newlines included) collapsed to one space, and an empty value is
absent; enumerations are lower-cased (`' PRODUCTION'` and `'production'` are one
environment); integers and numbers are parsed, and a cell that does not parse is left out
of the values and kept under `_invalid` in the archive (the raw record keeps the source
text either way).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from wiring_pipeline.domain.fields import CRITICAL_FIELDS, INVENTORY_FIELDS
from wiring_pipeline.domain.statistics import refresh_after_bulk_write
from wiring_pipeline.domain.tenancy import TenantScope, tenant_filter

REJECTED_PREFIX = "Rejected: "

#: Raw records of the partition that are not processed and name no asset.
UNLINKED_RECORD_SQL = f"""
    {tenant_filter("r")}
    AND NOT r.is_processed AND r.asset_id IS NULL
"""

#: Raw records the pipeline still has to process: not processed, not linked either way.
#: A record that a legacy asset already names is left alone: linking it is the backfill's
#: job, and a second asset for it would break the one-asset-per-record rule.
OPEN_RECORD_SQL = f"""{UNLINKED_RECORD_SQL}
    AND NOT EXISTS (
        SELECT 1 FROM migration.assets a
        WHERE {tenant_filter("a")} AND a.raw_import_records_id = r.id)
"""

#: The raw records of one flow: those whose import names the flow.
FLOW_RECORDS_SQL = f"""
    FROM migration.raw_import_records r
    JOIN migration.data_imports d
      ON {tenant_filter("d")}
     AND d.id = r.data_import_id AND d.discovery_flow_id = :flow_row_id
"""

_INTEGER = r"^[+-]?[0-9]{1,9}(\.0*)?$"
_NUMBER = r"^[+-]?([0-9]{1,30}(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$"


@dataclass(frozen=True)
class CleansingResult:
    cleansed: int
    rejected: int
    #: Open records whose import names no discovery flow of this partition with mappings.
    without_mappings: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)


def _value_sql(kind: str, column: str) -> tuple[str, str | None]:
    """The typed JSON value of one cleaned text column, and when it is invalid."""
    if kind == "enum":
        return f"to_jsonb(lower({column}))", None
    if kind == "integer":
        return (
            f"CASE WHEN {column} ~ '{_INTEGER}' THEN to_jsonb({column}::numeric::integer) END",
            f"{column} !~ '{_INTEGER}'",
        )
    if kind == "number":
        return (
            f"CASE WHEN {column} ~ '{_NUMBER}' THEN to_jsonb({column}::numeric) END",
            f"{column} !~ '{_NUMBER}'",
        )
    return f"to_jsonb({column})", None


def archive_statement(mappings: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The statement archiving one flow's cleansed values, and its source-column binds.

    Target fields come from `INVENTORY_FIELDS` (validated when the flow was added) and are
    the only names spliced into the SQL; source column names are bound parameters. The
    cleaned text is computed once per cell (a materialised CTE), then typed.
    """
    sources = {
        f"src_{i}": source
        for i, (source, target) in enumerate(mappings.items())
        if target in INVENTORY_FIELDS
    }
    targets = [(bind, mappings[source]) for bind, source in sources.items()]
    cleaned = ",\n".join(
        f"NULLIF(btrim(regexp_replace(r.raw_data ->> :{bind}, '\\s+', ' ', 'g')), '') AS f_{t}"
        for bind, t in targets
    )
    values, invalid = [], []
    for _, target in targets:
        value, is_invalid = _value_sql(INVENTORY_FIELDS[target], f"f_{target}")
        values.append(f"'{target}', {value}")
        if is_invalid:
            invalid.append(f"'{target}', CASE WHEN {is_invalid} THEN f_{target} END")
    invalid_sql = (
        f"jsonb_strip_nulls(jsonb_build_object({', '.join(invalid)}))" if invalid else "'{}'::jsonb"
    )
    return (
        f"""
    WITH source AS MATERIALIZED (
        SELECT r.id, {cleaned}
        {FLOW_RECORDS_SQL}
        WHERE {OPEN_RECORD_SQL} AND r.cleansed_data IS NULL
    )
    INSERT INTO migration.cleansed_record_archive
        (raw_import_record_id, client_account_id, engagement_id, cleansed_values,
         field_mappings_version_id, cleansed_at)
    SELECT id, :client_account_id, :engagement_id,
           CASE WHEN invalid = '{{}}'::jsonb THEN cleansed_values
                ELSE cleansed_values || jsonb_build_object('_invalid', invalid) END,
           :version_id, now()
    FROM (
        SELECT id,
               jsonb_strip_nulls(jsonb_build_object({", ".join(values)})) AS cleansed_values,
               {invalid_sql} AS invalid
        FROM source
    ) AS typed
    ON CONFLICT (raw_import_record_id) DO UPDATE
    SET cleansed_values = EXCLUDED.cleansed_values,
        field_mappings_version_id = EXCLUDED.field_mappings_version_id,
        cleansed_at = EXCLUDED.cleansed_at
    """,
        sources,
    )


_MISSING = ", ".join(
    f"CASE WHEN NOT c.cleansed_values ? '{name}' THEN '{name}' END" for name in CRITICAL_FIELDS
)

#: The minimal summary of every archived, not yet summarised open record, and the verdict.
#: A separate statement joining two tables (not a CTE), so the planner sees real sizes
#: even before statistics catch up with a fresh million-row load.
_SUMMARY_SQL = f"""
WITH updated AS (
    UPDATE migration.raw_import_records r
    SET cleansed_data = jsonb_build_object(
            'status', CASE WHEN v.missing = '' THEN 'cleansed' ELSE 'rejected' END,
            'field_count', v.field_count,
            'has_critical_fields', v.missing = '',
            'cleansed_at', now()),
        is_processed = v.missing <> '',
        processed_at = CASE WHEN v.missing <> '' THEN now() END,
        processing_notes = CASE WHEN v.missing <> ''
            THEN '{REJECTED_PREFIX}missing critical field(s): ' || v.missing END
    FROM (
        SELECT c.raw_import_record_id AS id,
               concat_ws(', ', {_MISSING}) AS missing,
               (SELECT count(*) FROM jsonb_object_keys(c.cleansed_values - '_invalid'))
                   AS field_count
        FROM migration.cleansed_record_archive c
        WHERE c.client_account_id = :client_account_id AND c.engagement_id = :engagement_id
    ) AS v
    WHERE {OPEN_RECORD_SQL} AND r.cleansed_data IS NULL AND r.id = v.id
    RETURNING r.processing_notes
)
SELECT processing_notes, count(*) AS records FROM updated GROUP BY processing_notes
"""


def cleanse_open_records(conn: Connection, scope: TenantScope) -> CleansingResult:
    """Cleanse every open, not yet cleansed record of the partition, flow by flow."""
    flows = conn.execute(
        text(
            """
            SELECT id, field_mappings, field_mappings_version_id
            FROM migration.discovery_flows
            WHERE client_account_id = :client_account_id AND engagement_id = :engagement_id
            ORDER BY created_at, id
            """
        ),
        scope.as_params(),
    ).all()
    for flow in flows:
        statement, sources = archive_statement(dict(flow.field_mappings or {}))
        if not sources:
            continue  # a legacy flow without mappings: nothing to cleanse its records with
        params = {
            **scope.as_params(),
            **sources,
            "flow_row_id": flow.id,
            "version_id": flow.field_mappings_version_id,
        }
        archived = conn.execute(text(statement), params).rowcount
        refresh_after_bulk_write(conn, "cleansed_record_archive", archived)
    cleansed = 0
    rejected: dict[str, int] = {}
    for notes, records in conn.execute(text(_SUMMARY_SQL), scope.as_params()):
        if notes is None:
            cleansed = records
        else:
            rejected[notes.removeprefix(REJECTED_PREFIX)] = records
    without_mappings = conn.execute(
        text(
            f"""
            SELECT count(*) FROM migration.raw_import_records r
            WHERE {OPEN_RECORD_SQL} AND r.cleansed_data IS NULL
            """
        ),
        scope.as_params(),
    ).scalar_one()
    return CleansingResult(cleansed, sum(rejected.values()), without_mappings, rejected)
