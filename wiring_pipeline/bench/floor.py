"""The floor: the benchmark's input processed by hand-written set-based SQL, nothing else.

Each stage is the least work PostgreSQL can do to reach the same final tables as the
pipeline: the server parses the CSV (COPY), one INSERT … SELECT archives the cleansed
values and verdicts, one INSERT … SELECT creates the inventory assets and feeds the
UPDATE … FROM that links the raw records back with their summaries, and one statement
counts the metrics. After each bulk write it
refreshes the planner statistics by the pipeline's own rule, so both pay for that alike.

It handles the benchmark's input only (a well-formed CSV of one pending import, no row the
loader would reject), which is what lets it skip the checks the pipeline must make;
`partition_diff.table_differences` proves that it ends with the same tables as the pipeline,
so the ratio between the two measures overhead, not a different job.
"""

from __future__ import annotations

import csv
from pathlib import Path

from psycopg import sql
from sqlalchemy import Connection, text

from wiring_pipeline.domain.contract.fields import CRITICAL_FIELDS, INVENTORY_FIELDS
from wiring_pipeline.domain.core.statistics import refresh_after_bulk_write
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter
from wiring_pipeline.domain.inventory.build import field_mappings_hash
from wiring_pipeline.samples.cmdb_generator import CMDB_FIELD_MAPPINGS

_SCOPE = tenant_filter()
_R_SCOPE = tenant_filter("r")
# The pipeline's number grammar, restated by hand; the floor-equals-pipeline test catches drift.
_INTEGER = r"^[+-]?[0-9]{1,9}(\.0*)?$"
_NUMBER = r"^[+-]?([0-9]{1,30}(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$"


def load(conn: Connection, scope: TenantScope) -> int:
    """COPY the pending CSV into a temporary table, then one INSERT … SELECT of raw records."""
    pending = conn.execute(
        text(
            f"SELECT id, stored_path FROM migration.data_imports WHERE {_SCOPE}"
            " AND status = 'pending'"
        ),
        scope.as_params(),
    ).one()
    path = Path(pending.stored_path)
    with path.open(encoding="utf-8", newline="") as handle:
        header = [name.strip() for name in next(csv.reader(handle))]
    columns = [f"c{index}" for index in range(len(header))]
    conn.exec_driver_sql(
        "CREATE TEMPORARY TABLE bench_floor_stage (row_number integer GENERATED ALWAYS AS"
        f" IDENTITY, {', '.join(f'{column} text' for column in columns)}) ON COMMIT DROP"
    )
    # An empty cell is empty text, as the pipeline stores it, not SQL NULL.
    column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
    copy_sql = sql.SQL(
        "COPY bench_floor_stage ({}) FROM STDIN (FORMAT csv, HEADER true, FORCE_NOT_NULL ({}))"
    ).format(column_list, column_list)
    with (
        conn.connection.driver_connection.cursor() as cursor,
        cursor.copy(copy_sql) as copy,
        path.open("rb") as handle,
    ):
        for block in iter(lambda: handle.read(1 << 20), b""):
            copy.write(block)
    pairs = ", ".join(
        f"CAST(:k{index} AS text), s.{column}" for index, column in enumerate(columns)
    )
    loaded = conn.execute(
        text(
            f"""
            INSERT INTO migration.raw_import_records
                (client_account_id, engagement_id, data_import_id, row_number, raw_data)
            SELECT :client_account_id, :engagement_id, :data_import_id, s.row_number + 1,
                   jsonb_build_object({pairs})
            FROM bench_floor_stage s
            """
        ),
        {
            **scope.as_params(),
            "data_import_id": pending.id,
            **{f"k{index}": name for index, name in enumerate(header)},
        },
    ).rowcount
    conn.execute(
        text(
            f"""
            UPDATE migration.data_imports
            SET status = 'loaded', loaded_rows = :loaded, rejected_rows = 0,
                total_records = :loaded, error = NULL, loaded_at = now()
            WHERE {_SCOPE} AND id = :data_import_id
            """
        ),
        {**scope.as_params(), "data_import_id": pending.id, "loaded": loaded},
    )
    refresh_after_bulk_write(conn, "raw_import_records", loaded)
    return loaded


def _flow(conn: Connection, scope: TenantScope):
    """The partition's one discovery flow (the benchmark registers exactly one)."""
    return conn.execute(
        text(
            "SELECT id, flow_id, master_flow_id, field_mappings, field_mappings_version_id"
            f" FROM migration.discovery_flows WHERE {_SCOPE}"
        ),
        scope.as_params(),
    ).one()


def _typed(target: str) -> str:
    """The cleansed JSON value of one cleaned text column `v.<target>`, by its field kind."""
    kind, column = INVENTORY_FIELDS[target], f"v.{target}"
    if kind == "enum":
        return f"to_jsonb(lower({column}))"
    if kind == "integer":
        return f"CASE WHEN {column} ~ '{_INTEGER}' THEN to_jsonb({column}::numeric::integer) END"
    if kind == "number":
        return f"CASE WHEN {column} ~ '{_NUMBER}' THEN to_jsonb({column}::numeric) END"
    return f"to_jsonb({column})"


#: The flow's identity key (DESIGN 3a): the column mapped to hostname.
_KEY_COLUMN = next(source for source, target in CMDB_FIELD_MAPPINGS.items() if target == "hostname")
_SOURCES = {f"s{index}": source for index, source in enumerate(CMDB_FIELD_MAPPINGS)}
_CLEANED = ", ".join(
    f"NULLIF(btrim(regexp_replace(r.raw_data ->> :{bind}, '\\s+', ' ', 'g')), '')"
    f" AS {CMDB_FIELD_MAPPINGS[source]}"
    for bind, source in _SOURCES.items()
)
_VALUES = ", ".join(f"'{target}', {_typed(target)}" for target in CMDB_FIELD_MAPPINGS.values())
_MISSING = ", ".join(
    f"CASE WHEN cleansed_values ? '{name}' THEN NULL ELSE '{name}' END" for name in CRITICAL_FIELDS
)
# MATERIALIZED: each record's values are built once, not once per use in the verdict.
_CLEANSE_SQL = text(
    f"""
    WITH source AS MATERIALIZED (
        SELECT r.id, r.row_number, jsonb_strip_nulls(jsonb_build_object({_VALUES}))
                   AS cleansed_values,
               NULLIF(lower(btrim(r.raw_data ->> :key)), '') AS identity_key
        FROM migration.raw_import_records r
        CROSS JOIN LATERAL (SELECT {_CLEANED}) v
        WHERE {_R_SCOPE} AND NOT r.is_processed
    ), judged AS (
        SELECT x.*, first_value(x.row_number) OVER (
                        PARTITION BY x.identity_key, cardinality(x.missing) = 0
                        ORDER BY x.row_number) AS first_row
        FROM (SELECT s.*, array_remove(ARRAY[{_MISSING}]::text[], NULL) AS missing
              FROM source s) AS x
    )
    INSERT INTO migration.cleansed_record_archive
        (raw_import_record_id, client_account_id, engagement_id, cleansed_values,
         field_mappings_version_id, cleansed_at, identity_key, verdict, field_count,
         has_critical_fields)
    SELECT id, :client_account_id, :engagement_id, cleansed_values, :version_id, now(),
           identity_key,
           CASE WHEN cardinality(missing) > 0 THEN
                    'missing critical field(s): ' || array_to_string(missing, ', ')
                WHEN first_row <> row_number THEN
                    format('duplicate key %L (first at row %s)', identity_key, first_row)
                END,
           (SELECT count(*) FROM jsonb_object_keys(cleansed_values)), cardinality(missing) = 0
    FROM judged
    """
)


def cleanse(conn: Connection, scope: TenantScope) -> int:
    """One INSERT … SELECT of the cleansed values and verdicts into the archive (DESIGN 1:
    the raw records get their summary with their link).

    The benchmark's mappings are known, so the expressions are fixed.
    """
    flow = _flow(conn, scope)
    cleansed = conn.execute(
        _CLEANSE_SQL,
        {
            **scope.as_params(),
            **_SOURCES,
            "key": _KEY_COLUMN,
            "version_id": flow.field_mappings_version_id,
        },
    ).rowcount
    refresh_after_bulk_write(conn, "cleansed_record_archive", cleansed)
    return cleansed


_CAST = {"integer": "::integer", "number": "::numeric"}
_ASSET_VALUES = ", ".join(
    f"(c.cleansed_values ->> '{name}'){_CAST.get(kind, '')}"
    for name, kind in INVENTORY_FIELDS.items()
)
_INVENTORY_SQL = text(
    f"""
    WITH created AS (
        INSERT INTO migration.assets
            (client_account_id, engagement_id, {", ".join(INVENTORY_FIELDS)}, identity_key,
             discovery_flow_id, master_flow_id, raw_import_records_id, field_mappings_used,
             source_phase, current_phase, discovery_method, discovery_source,
             discovery_timestamp, custom_attributes)
        SELECT :client_account_id, :engagement_id, {_ASSET_VALUES}, c.identity_key,
               :flow_row_id, :master_flow_id, r.id, :mappings_hash,
               'inventory', 'inventory', 'flow_based', 'Discovery Flow', now(),
               jsonb_build_object(
                   'unmapped_columns', r.raw_data - CAST(:mapped_sources AS text[]),
                   'field_mappings_version', CAST(:version_id AS text),
                   'discovered_in_phase', 'inventory')
        FROM migration.raw_import_records r
        JOIN migration.cleansed_record_archive c
          ON {tenant_filter("c")}
         AND c.raw_import_record_id = r.id
        WHERE {_R_SCOPE} AND NOT r.is_processed AND c.verdict IS NULL
        RETURNING id, raw_import_records_id, name
    )
    UPDATE migration.raw_import_records r
    SET asset_id = n.id, is_processed = true, processed_at = now(),
        processing_notes = CASE WHEN n.id IS NULL THEN 'Rejected: ' || c.verdict
                                ELSE 'Linked to: ' || n.name END,
        cleansed_data = jsonb_build_object(
            'status', CASE WHEN c.verdict IS NULL THEN 'cleansed' ELSE 'rejected' END,
            'field_count', c.field_count, 'has_critical_fields', c.has_critical_fields,
            'cleansed_at', c.cleansed_at)
    FROM migration.cleansed_record_archive c
    LEFT JOIN created n ON n.raw_import_records_id = c.raw_import_record_id
    WHERE {_R_SCOPE} AND {tenant_filter("c")} AND r.id = c.raw_import_record_id
      AND NOT r.is_processed
    """
)


def build_inventory(conn: Connection, scope: TenantScope) -> int:
    """INSERT … SELECT … RETURNING the assets, feeding the UPDATE … FROM that links (or
    rejects) each record with its summary: one statement."""
    flow = _flow(conn, scope)
    mappings = dict(flow.field_mappings)
    created = conn.execute(
        _INVENTORY_SQL,
        {
            **scope.as_params(),
            "flow_row_id": flow.id,
            "master_flow_id": flow.master_flow_id,
            "mappings_hash": field_mappings_hash(flow.flow_id, mappings),
            "mapped_sources": list(mappings),
            "version_id": str(flow.field_mappings_version_id),
        },
    ).rowcount
    refresh_after_bulk_write(conn, "assets", created)
    return created


_METRICS_SQL = text(
    f"""
    WITH asset_side AS (
        SELECT
            count(*) FILTER (WHERE a.discovery_method = 'flow_based'
                               AND a.discovery_flow_id IS NULL) AS flow_missing,
            count(*) FILTER (WHERE a.discovery_flow_id IS NULL) AS all_missing,
            count(*) FILTER (WHERE a.raw_import_records_id IS NOT NULL AND r.id IS NULL)
                AS orphan_raw_ref,
            count(*) FILTER (WHERE a.discovery_flow_id IS NOT NULL AND f.id IS NULL)
                AS orphan_flow_ref,
            count(*) FILTER (WHERE r.id IS NOT NULL AND r.asset_id IS DISTINCT FROM a.id)
                AS asymmetric
        FROM migration.assets a
        LEFT JOIN migration.raw_import_records r
          ON {tenant_filter("r")}
         AND r.id = a.raw_import_records_id
        LEFT JOIN migration.discovery_flows f
          ON {tenant_filter("f")}
         AND f.id = a.discovery_flow_id
        WHERE {tenant_filter("a")}
    ), raw_side AS (
        SELECT
            count(*) FILTER (WHERE r.asset_id IS NOT NULL AND a.id IS NULL) AS orphan_asset_ref,
            count(*) FILTER (WHERE NOT r.is_processed) AS unprocessed,
            count(*) FILTER (WHERE a.id IS NOT NULL AND src.id IS NULL
                               AND a.raw_import_records_id IS DISTINCT FROM r.id) AS asymmetric,
            count(*) FILTER (WHERE r.superseded_by IS NOT NULL AND n.id IS NULL)
                AS orphan_superseded_by
        FROM migration.raw_import_records r
        LEFT JOIN migration.assets a
          ON {tenant_filter("a")}
         AND a.id = r.asset_id
        LEFT JOIN migration.raw_import_records n
          ON {tenant_filter("n")}
         AND n.id = r.superseded_by
        LEFT JOIN migration.asset_sources src
          ON {tenant_filter("src")}
         AND src.raw_import_record_id = r.id AND src.asset_id = r.asset_id
        WHERE {tenant_filter("r")}
    ), source_side AS (
        SELECT
            count(*) FILTER (WHERE s.asset_id IS NOT NULL AND a.id IS NULL) AS orphan_asset,
            count(*) FILTER (WHERE s.discovery_flow_id IS NOT NULL AND f.id IS NULL)
                AS orphan_flow,
            count(*) FILTER (WHERE s.raw_import_record_id IS NOT NULL AND r.id IS NULL)
                AS orphan_raw
        FROM migration.asset_sources s
        LEFT JOIN migration.assets a ON {tenant_filter("a")} AND a.id = s.asset_id
        LEFT JOIN migration.discovery_flows f
          ON {tenant_filter("f")} AND f.id = s.discovery_flow_id
        LEFT JOIN migration.raw_import_records r
          ON {tenant_filter("r")} AND r.id = s.raw_import_record_id
        WHERE {tenant_filter("s")}
    )
    SELECT s.flow_missing AS flow_based_assets_missing_discovery_flow_id,
           s.all_missing AS all_assets_missing_discovery_flow_id,
           s.orphan_raw_ref AS assets_with_orphan_raw_import_ref,
           w.orphan_asset_ref AS raw_records_with_orphan_asset_ref,
           w.unprocessed AS unprocessed_raw_records,
           s.orphan_flow_ref AS assets_with_orphan_flow_ref,
           s.asymmetric + w.asymmetric AS asymmetric_links,
           w.orphan_superseded_by AS raw_records_with_orphan_superseded_by,
           o.orphan_asset AS asset_sources_with_orphan_source_asset_ref,
           o.orphan_flow AS asset_sources_with_orphan_source_flow_ref,
           o.orphan_raw AS asset_sources_with_orphan_source_raw_import_ref,
           (SELECT count(*) FROM migration.match_candidates m
            WHERE {tenant_filter("m")} AND m.status = 'open') AS open_match_candidates,
           (SELECT count(*) FROM migration.asset_conflicts c
            WHERE {tenant_filter("c")}) AS asset_field_conflicts,
           (SELECT count(*) FROM migration.data_imports d
            WHERE {tenant_filter("d")} AND d.retirement_held > 0
              AND d.retirement_confirmed_at IS NULL AND NOT d.is_partial
              AND d.status = 'loaded' AND NOT EXISTS (
                  SELECT 1 FROM migration.data_imports l
                  WHERE {tenant_filter("l")} AND l.discovery_flow_id = d.discovery_flow_id
                    AND l.status = 'loaded'
                    AND (l.created_at, l.id) > (d.created_at, d.id))) AS retirements_held
    FROM asset_side s CROSS JOIN raw_side w CROSS JOIN source_side o
    """
)


def count_metrics(conn: Connection, scope: TenantScope) -> dict[str, int]:
    """The wiring metrics (all but completeness) in one pass over each table.

    The pipeline counts each metric with its own `NOT EXISTS`; here one left join per
    side classifies every row at once (orphan, asymmetric or fine), which is the least a
    scan of the partition can cost. The joins are on primary keys, so no row is counted
    twice.
    """
    row = conn.execute(_METRICS_SQL, scope.as_params()).one()
    return {name: int(value) for name, value in row._mapping.items()}
