"""The migration chain runs both ways on a real PostgreSQL and matches the code's tables."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import create_engine, inspect, text

from wiring_pipeline.db import engines
from wiring_pipeline.domain.contract import constraints
from wiring_pipeline.domain.core.schema import metadata


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names(schema="migration")) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(fresh_database):
    engine = create_engine(fresh_database())
    try:
        engines.upgrade(engine)
        assert engines.current_revision(engine) == "0020_hot_source_refresh"
        assert _tables(engine) == {t.name for t in metadata.sorted_tables}

        engines.downgrade(engine, "base")
        assert engines.current_revision(engine) is None
        assert _tables(engine) == set()

        engines.upgrade(engine, "0001_legacy_schema")
        columns = {c["name"] for c in inspect(engine).get_columns("assets", schema="migration")}
        assert "flow_id" in columns
        assert "discovery_flow_id" not in columns  # the legacy schema had no linkage columns
        assert "raw_import_records_id" not in columns

        engines.upgrade(engine)
        assert engines.current_revision(engine) == "0020_hot_source_refresh"
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


def test_foreign_keys_of_earlier_versions_take_their_link_names(fresh_database):
    """A database whose constraints job ran before 0007 keeps its keys, under the new names."""
    engine = create_engine(fresh_database())
    try:
        engines.upgrade(engine, "0006_time_ordered_ids")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "ALTER TABLE migration.assets ADD CONSTRAINT fk_assets_discovery_flow"
                    " FOREIGN KEY (client_account_id, engagement_id, discovery_flow_id)"
                    " REFERENCES migration.discovery_flows (client_account_id, engagement_id, id)"
                    " NOT VALID"
                )
            )
        engines.upgrade(engine)
        with engine.connect() as conn:
            states = constraints.constraint_states(conn)
        assert states == {
            "fk_assets_flow_ref": "not valid",
            "fk_assets_raw_import_ref": "absent",
            "fk_raw_import_records_asset_ref": "absent",
            "fk_raw_import_records_superseded_by": "absent",
            "fk_asset_sources_source_asset_ref": "absent",
            "fk_asset_sources_source_flow_ref": "absent",
            "fk_asset_sources_source_raw_import_ref": "absent",
        }
        engines.downgrade(engine, "0006_time_ordered_ids")
        with engine.connect() as conn:
            names = conn.execute(
                text("SELECT conname FROM pg_constraint WHERE conname LIKE 'fk_assets_%'")
            ).scalars()
            assert set(names) == {"fk_assets_discovery_flow"}
    finally:
        engine.dispose()


def test_lookups_by_asset_can_use_the_partial_link_index(migrated_engine):
    """Records without an asset stay out of the index, yet every lookup by asset uses it."""
    with migrated_engine.connect() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = "\n".join(
            conn.execute(
                text(
                    """
                    EXPLAIN SELECT id FROM migration.raw_import_records
                    WHERE client_account_id = :tenant AND engagement_id = :tenant
                      AND asset_id = :asset
                    """
                ),
                {"tenant": uuid.uuid4(), "asset": uuid.uuid4()},
            ).scalars()
        )
        predicate = conn.execute(
            text(
                "SELECT pg_get_expr(indpred, indrelid) FROM pg_index"
                " WHERE indexrelid = 'migration.ix_raw_import_records_tenant_asset'::regclass"
            )
        ).scalar_one()
        conn.rollback()
    assert "Index Cond" in plan and "ix_raw_import_records_tenant_asset" in plan
    assert predicate == "(asset_id IS NOT NULL)"


def test_every_existing_keyed_asset_gets_its_source_row(fresh_database):
    """0015 gives each asset of a flow, with a current record and a key, its source row."""
    engine = create_engine(fresh_database())
    try:
        engines.upgrade(engine, "0014_discarded_imports")
        with engine.begin() as conn:
            ids = conn.execute(
                text(
                    """
                    WITH c AS (INSERT INTO migration.client_accounts (slug, name, created_at)
                               VALUES ('acme', 'Acme', now()) RETURNING id),
                    e AS (INSERT INTO migration.engagements
                              (client_account_id, slug, name, created_at)
                          SELECT id, 'old', 'Old', now() FROM c RETURNING client_account_id, id),
                    f AS (INSERT INTO migration.discovery_flows (flow_id, client_account_id,
                              engagement_id, status, field_mappings, created_at, updated_at)
                          SELECT gen_random_uuid(), client_account_id, id, 'active', '{}',
                                 now(), now() FROM e RETURNING client_account_id, engagement_id, id)
                    SELECT * FROM f
                    """
                )
            ).one()
            for n, (serial, host) in enumerate(
                [("VMware-42 1a", "WEB01.corp.example"), ("To be filled by O.E.M.", None)]
            ):
                conn.execute(
                    text(
                        """
                        WITH r AS (INSERT INTO migration.raw_import_records
                                       (client_account_id, engagement_id, row_number, raw_data,
                                        is_processed, created_at)
                                   VALUES (:c, :e, :n, '{}', true, now()) RETURNING id)
                        INSERT INTO migration.assets (client_account_id, engagement_id, name,
                            hostname, serial_number, discovery_flow_id, raw_import_records_id,
                            identity_key, custom_attributes, created_at, updated_at)
                        SELECT :c, :e, 'asset-' || :n, :host, :serial, :f, r.id, 'key-' || :n,
                               '{}', now(), now() FROM r
                        """
                    ),
                    {"c": ids.client_account_id, "e": ids.engagement_id, "f": ids.id, "n": n,
                     "host": host, "serial": serial},
                )  # fmt: skip
        engines.upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT s.identity_key, s.matched_on, s.match_serial_number, s.match_hostname,"
                    " s.match_fqdn, s.raw_import_record_id = a.raw_import_records_id AS current"
                    " FROM migration.asset_sources s JOIN migration.assets a ON a.id = s.asset_id"
                    " ORDER BY s.identity_key"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("key-0", "new", "VMWARE421A", "web01", "web01.corp.example", True),
            ("key-1", "new", None, None, None, True),  # a placeholder serial, no host name
        ]
    finally:
        engine.dispose()


def test_the_verdicts_move_to_the_archive_and_back(fresh_database):
    """0018 copies each archived record's verdict from its raw record and forgets the values of
    records waiting to be cleansed again; its downgrade gives a record still waiting for the
    inventory the summary the old cleansing wrote."""
    engine = create_engine(fresh_database())
    summary = {"status": "rejected", "field_count": 2, "has_critical_fields": False,
               "cleansed_at": "2026-12-01T00:00:00+00:00"}  # fmt: skip
    try:
        engines.upgrade(engine, "0017_retirement_guard")
        with engine.begin() as conn:
            tenant = conn.execute(
                text(
                    """
                    WITH c AS (INSERT INTO migration.client_accounts (slug, name, created_at)
                               VALUES ('acme', 'Acme', now()) RETURNING id)
                    INSERT INTO migration.engagements (client_account_id, slug, name, created_at)
                    SELECT id, 'old', 'Old', now() FROM c RETURNING client_account_id, id
                    """
                )
            ).one()
            for n, (cleansed, processed, notes) in enumerate(
                [
                    ({**summary, "status": "cleansed", "has_critical_fields": True}, False, None),
                    (summary, True, "Rejected: missing critical field(s): name"),
                    (None, False, None),  # re-queued: its archived values are stale
                ]
            ):
                conn.execute(
                    text(
                        """
                        WITH r AS (INSERT INTO migration.raw_import_records
                                       (client_account_id, engagement_id, row_number, raw_data,
                                        cleansed_data, is_processed, processing_notes, created_at)
                                   VALUES (:c, :e, :n, '{}', CAST(:cleansed AS jsonb),
                                           :processed, :notes, now()) RETURNING id)
                        INSERT INTO migration.cleansed_record_archive
                            (raw_import_record_id, client_account_id, engagement_id,
                             cleansed_values, cleansed_at)
                        SELECT r.id, :c, :e, '{}', now() FROM r
                        """
                    ),
                    {"c": tenant.client_account_id, "e": tenant.id, "n": n,
                     "cleansed": json.dumps(cleansed) if cleansed else None,
                     "processed": processed, "notes": notes},
                )  # fmt: skip
        engines.upgrade(engine)
        archived = (
            "SELECT r.row_number, c.verdict, c.field_count, c.has_critical_fields"
            " FROM migration.cleansed_record_archive c"
            " JOIN migration.raw_import_records r ON r.id = c.raw_import_record_id"
            " ORDER BY r.row_number"
        )
        with engine.connect() as conn:
            assert [tuple(row) for row in conn.execute(text(archived))] == [
                (0, None, 2, True),
                (1, "missing critical field(s): name", 2, False),
            ]
            # Under the new contract the record waiting for the inventory has no summary.
            conn.execute(
                text("UPDATE migration.raw_import_records SET cleansed_data = NULL"
                     " WHERE row_number = 0")
            )  # fmt: skip
            conn.commit()
        engines.downgrade(engine, "0017_retirement_guard")
        with engine.connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT cleansed_data, is_processed FROM migration.raw_import_records"
                    " WHERE row_number = 0"
                )
            ).one()
        assert waiting.cleansed_data["status"] == "cleansed" and not waiting.is_processed
        assert waiting.cleansed_data["field_count"] == 2
    finally:
        engine.dispose()
