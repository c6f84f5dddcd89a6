"""The migration chain runs both ways on a real PostgreSQL and matches the code's tables."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from wiring_pipeline import database
from wiring_pipeline.domain.schema import metadata


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names(schema="migration")) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(fresh_database):
    engine = create_engine(fresh_database())
    try:
        database.upgrade(engine)
        assert database.current_revision(engine) == "0006_time_ordered_ids"
        assert _tables(engine) == {t.name for t in metadata.sorted_tables}

        database.downgrade(engine, "base")
        assert database.current_revision(engine) is None
        assert _tables(engine) == set()

        database.upgrade(engine, "0001_legacy_schema")
        columns = {c["name"] for c in inspect(engine).get_columns("assets", schema="migration")}
        assert "flow_id" in columns
        assert "discovery_flow_id" not in columns  # the legacy schema had no linkage columns
        assert "raw_import_records_id" not in columns

        database.upgrade(engine)
        assert database.current_revision(engine) == "0006_time_ordered_ids"
    finally:
        engine.dispose()


def test_code_tables_match_migrated_columns(migrated_engine):
    inspector = inspect(migrated_engine)
    for table in metadata.sorted_tables:
        migrated = {c["name"] for c in inspector.get_columns(table.name, schema="migration")}
        assert migrated == set(table.c.keys()), table.name


def test_indexes_of_partition_queries_lead_with_tenant_columns(migrated_engine):
    with migrated_engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT c.relname AS table_name, i.relname AS index_name,
                       array_agg(a.attname ORDER BY k.ord) AS columns
                FROM pg_index x
                JOIN pg_class c ON c.oid = x.indrelid
                JOIN pg_class i ON i.oid = x.indexrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
                CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                WHERE n.nspname = 'migration' AND NOT x.indisprimary
                GROUP BY c.relname, i.relname
                """
            )
        ).all()
    tenant_tables = {t.name for t in metadata.sorted_tables if "engagement_id" in t.c}
    tenant_indexes = [row for row in rows if row.table_name in tenant_tables]
    assert tenant_indexes, "no index of a tenant table found: the query checks nothing"
    for _, index_name, columns in tenant_indexes:
        assert columns[:2] == ["client_account_id", "engagement_id"], (index_name, columns)
