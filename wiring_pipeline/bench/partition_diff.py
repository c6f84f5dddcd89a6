"""Whether two partitions hold the same content: the bench's proof that the floor and the
pipeline end with the same tables, so their ratio measures overhead, not a different job."""

from __future__ import annotations

from sqlalchemy import Connection, text

from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter


def _projections(p: str) -> dict[str, str]:
    """Each table of a partition (bound with `prefix` p) as it compares across partitions.

    Generated ids, tenant ids and timestamps left out, links reduced to whether they point
    where they must. The flow's mapping version id differs between partitions, so it is
    replaced by a marker.
    """
    return {
        "data_imports": f"""
        SELECT d.filename, d.status, d.file_format, d.loaded_rows, d.rejected_rows,
               d.total_records, d.error, d.loaded_at IS NULL AS never_loaded
        FROM migration.data_imports d
        WHERE {tenant_filter("d", p)}
    """,
        "import_rejected_rows": f"""
        SELECT j.row_number, j.reason, j.raw_text
        FROM migration.import_rejected_rows j
        WHERE {tenant_filter("j", p)}
    """,
        "raw_import_records": f"""
        SELECT r.row_number, r.raw_data, r.cleansed_data - 'cleansed_at' AS cleansed_summary,
               r.is_processed, r.processed_at IS NULL AS never_processed, r.processing_notes,
               r.asset_id IS NULL AS unlinked,
               r.asset_id IS NOT DISTINCT FROM a.id AS linked_to_own_asset
        FROM migration.raw_import_records r
        LEFT JOIN migration.assets a
          ON {tenant_filter("a", p)}
         AND a.raw_import_records_id = r.id
        WHERE {tenant_filter("r", p)}
    """,
        "cleansed_record_archive": f"""
        SELECT r.row_number,
               replace(c.cleansed_values::text, f.field_mappings_version_id::text, '<version>')
                   AS cleansed_values,
               c.field_mappings_version_id IS NOT DISTINCT FROM f.field_mappings_version_id
                   AS version_of_flow,
               c.verdict, c.field_count, c.has_critical_fields
        FROM migration.cleansed_record_archive c
        JOIN migration.raw_import_records r
          ON {tenant_filter("r", p)}
         AND r.id = c.raw_import_record_id
        JOIN migration.data_imports d
          ON {tenant_filter("d", p)} AND d.id = r.data_import_id
        JOIN migration.discovery_flows f
          ON {tenant_filter("f", p)}
         AND f.id = d.discovery_flow_id
        WHERE {tenant_filter("c", p)}
    """,
        "assets": f"""
        SELECT r.row_number,
               to_jsonb(a) - ARRAY['id', 'client_account_id', 'engagement_id', 'created_at',
                                   'updated_at', 'discovery_timestamp', 'discovery_flow_id',
                                   'master_flow_id', 'raw_import_records_id',
                                   'custom_attributes'] AS asset_values,
               replace(a.custom_attributes::text, f.field_mappings_version_id::text, '<version>')
                   AS custom_attributes,
               a.discovery_flow_id IS NOT DISTINCT FROM f.id AS flow_of_import,
               a.master_flow_id IS NOT DISTINCT FROM f.master_flow_id AS master_flow_of_import,
               a.discovery_timestamp IS NULL AS never_discovered
        FROM migration.assets a
        LEFT JOIN migration.raw_import_records r
          ON {tenant_filter("r", p)}
         AND r.id = a.raw_import_records_id
        LEFT JOIN migration.data_imports d
          ON {tenant_filter("d", p)} AND d.id = r.data_import_id
        LEFT JOIN migration.discovery_flows f
          ON {tenant_filter("f", p)}
         AND f.id = d.discovery_flow_id
        WHERE {tenant_filter("a", p)}
    """,
    }


def table_differences(conn: Connection, left: TenantScope, right: TenantScope) -> dict:
    """Per table, the rows of each partition and how many of them the other lacks.

    A multiset difference in both directions (`EXCEPT ALL`), so a duplicated or missing
    row counts as much as a changed one. Zero differences over non-zero rows means the
    two partitions hold the same content.
    """
    params = {**left.as_params("l_"), **right.as_params("r_")}
    result = {}
    theirs_by_table = _projections("r_")
    for table, ours in _projections("l_").items():
        theirs = theirs_by_table[table]
        row = conn.execute(
            text(
                f"""
                SELECT (SELECT count(*) FROM ({ours}) o) AS left_rows,
                       (SELECT count(*) FROM ({theirs}) t) AS right_rows,
                       (SELECT count(*) FROM (({ours}) EXCEPT ALL ({theirs})) d)
                     + (SELECT count(*) FROM (({theirs}) EXCEPT ALL ({ours})) d) AS differences
                """
            ),
            params,
        ).one()
        result[table] = dict(row._mapping)
    return result
