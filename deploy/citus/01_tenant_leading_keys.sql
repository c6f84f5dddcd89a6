-- Moving the application database to Citus, step 1 of 2: every key leads with the tenant.
--
-- Plain PostgreSQL: run it once, in one transaction, on the database at Alembic head
-- (`wiring-pipeline db upgrade`), before 02_distribute.sql. Tested by
-- wiring_pipeline_tests/test_deploy.py on the project's PostgreSQL.
--
-- Citus shards every tenant table on client_account_id and refuses a PRIMARY KEY or UNIQUE
-- constraint that does not contain it, and a foreign key between sharded tables that does
-- not carry it on both sides. The wiring's keys already do: (client_account_id,
-- engagement_id, id) on discovery_flows, raw_import_records and assets, and the link
-- foreign keys that wiring_constraints_job adds reference exactly those. What is left are
-- the single-column primary keys and the two references to data_imports by id alone.
--
-- Two statements of the application name a single-column conflict target and must name a
-- tenant-leading one before this runs (see README "Past one machine"):
-- `ON CONFLICT (raw_import_record_id)` (cleansed_record_archive) and `ON CONFLICT (run_id)`
-- (backfill_runs).

BEGIN;

-- The link keys are re-added by wiring_constraints_job once the tables are distributed.
ALTER TABLE migration.assets DROP CONSTRAINT IF EXISTS fk_assets_flow_ref;
ALTER TABLE migration.assets DROP CONSTRAINT IF EXISTS fk_assets_raw_import_ref;
ALTER TABLE migration.raw_import_records DROP CONSTRAINT IF EXISTS fk_raw_import_records_asset_ref;
ALTER TABLE migration.raw_import_records
    DROP CONSTRAINT IF EXISTS fk_raw_import_records_superseded_by;

-- References to an import by id alone become tenant-scoped, like the wiring's.
ALTER TABLE migration.raw_import_records
    DROP CONSTRAINT raw_import_records_data_import_id_fkey;
ALTER TABLE migration.import_rejected_rows
    DROP CONSTRAINT import_rejected_rows_data_import_id_fkey;

ALTER TABLE migration.engagements
    DROP CONSTRAINT engagements_pkey,
    ADD CONSTRAINT engagements_pkey PRIMARY KEY (client_account_id, id);

ALTER TABLE migration.data_imports
    DROP CONSTRAINT data_imports_pkey,
    ADD CONSTRAINT data_imports_pkey PRIMARY KEY (client_account_id, id),
    ADD CONSTRAINT uq_data_imports_tenant_id UNIQUE (client_account_id, engagement_id, id);

ALTER TABLE migration.discovery_flows
    DROP CONSTRAINT discovery_flows_pkey,
    ADD CONSTRAINT discovery_flows_pkey PRIMARY KEY (client_account_id, id);

ALTER TABLE migration.raw_import_records
    DROP CONSTRAINT raw_import_records_pkey,
    ADD CONSTRAINT raw_import_records_pkey PRIMARY KEY (client_account_id, id),
    ADD CONSTRAINT fk_raw_import_records_data_import
        FOREIGN KEY (client_account_id, engagement_id, data_import_id)
        REFERENCES migration.data_imports (client_account_id, engagement_id, id);

ALTER TABLE migration.assets
    DROP CONSTRAINT assets_pkey,
    ADD CONSTRAINT assets_pkey PRIMARY KEY (client_account_id, id);

ALTER TABLE migration.import_rejected_rows
    DROP CONSTRAINT import_rejected_rows_pkey,
    ADD CONSTRAINT import_rejected_rows_pkey PRIMARY KEY (client_account_id, id),
    ADD CONSTRAINT fk_import_rejected_rows_data_import
        FOREIGN KEY (client_account_id, engagement_id, data_import_id)
        REFERENCES migration.data_imports (client_account_id, engagement_id, id);

ALTER TABLE migration.cleansed_record_archive
    DROP CONSTRAINT cleansed_record_archive_pkey,
    ADD CONSTRAINT cleansed_record_archive_pkey
        PRIMARY KEY (client_account_id, engagement_id, raw_import_record_id);

ALTER TABLE migration.wiring_health_snapshots
    DROP CONSTRAINT wiring_health_snapshots_pkey,
    ADD CONSTRAINT wiring_health_snapshots_pkey PRIMARY KEY (client_account_id, id);

-- A re-import's history; its key to assets (migration 0008) already leads with the tenant.
ALTER TABLE migration.asset_history
    DROP CONSTRAINT asset_history_pkey,
    ADD CONSTRAINT asset_history_pkey PRIMARY KEY (client_account_id, id);

ALTER TABLE migration.backfill_runs
    DROP CONSTRAINT backfill_runs_pkey,
    ADD CONSTRAINT backfill_runs_pkey PRIMARY KEY (client_account_id, engagement_id, run_id);

ALTER TABLE migration.backfill_audit
    DROP CONSTRAINT backfill_audit_pkey,
    ADD CONSTRAINT backfill_audit_pkey PRIMARY KEY (client_account_id, id);

COMMIT;
