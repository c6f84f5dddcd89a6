-- Moving the application database to Citus, step 2 of 2: shard by client_account_id.
--
-- Run on the Citus coordinator, after 01_tenant_leading_keys.sql, with the pipeline
-- stopped (pause the sensors and schedules, let queued runs finish). NOT tested in this
-- project: there is no Citus on its CI machine. Every table of a tenant lands on the same
-- worker (co-location), so a partition's queries, which all filter on client_account_id
-- and engagement_id with the NOT EXISTS anti-joins and UPDATE ... FROM joins on those
-- columns, are routed to one worker as single-shard queries. On a large live table use
-- create_distributed_table_concurrently (Citus 11.2+) instead, one table at a time.

CREATE EXTENSION IF NOT EXISTS citus;

-- Small and joined by everything: a copy on every node.
SELECT create_reference_table('migration.client_accounts');

-- Referenced tables before the tables that reference them.
SELECT create_distributed_table('migration.engagements', 'client_account_id');
SELECT create_distributed_table('migration.discovery_flows', 'client_account_id',
                                colocate_with => 'migration.engagements');
SELECT create_distributed_table('migration.data_imports', 'client_account_id',
                                colocate_with => 'migration.engagements');
SELECT create_distributed_table('migration.raw_import_records', 'client_account_id',
                                colocate_with => 'migration.engagements');
SELECT create_distributed_table('migration.assets', 'client_account_id',
                                colocate_with => 'migration.engagements');
SELECT create_distributed_table('migration.asset_history', 'client_account_id',
                                colocate_with => 'migration.engagements');
SELECT create_distributed_table('migration.import_rejected_rows', 'client_account_id',
                                colocate_with => 'migration.engagements');
SELECT create_distributed_table('migration.cleansed_record_archive', 'client_account_id',
                                colocate_with => 'migration.engagements');
SELECT create_distributed_table('migration.wiring_health_snapshots', 'client_account_id',
                                colocate_with => 'migration.engagements');
SELECT create_distributed_table('migration.backfill_runs', 'client_account_id',
                                colocate_with => 'migration.engagements');
SELECT create_distributed_table('migration.backfill_audit', 'client_account_id',
                                colocate_with => 'migration.engagements');
SELECT create_distributed_table('migration.asset_sources', 'client_account_id',
                                colocate_with => 'migration.engagements');
SELECT create_distributed_table('migration.match_candidates', 'client_account_id',
                                colocate_with => 'migration.engagements');
SELECT create_distributed_table('migration.asset_conflicts', 'client_account_id',
                                colocate_with => 'migration.engagements');
SELECT create_distributed_table('migration.asset_reconciliations', 'client_account_id',
                                colocate_with => 'migration.engagements');

-- migration.alembic_version stays a local table on the coordinator, and so does
-- migration.api_tokens (the HTTP API's token hashes: an admin token belongs to no tenant).
-- Then run wiring_constraints_job (or `wiring-pipeline constraints --validate`): it adds the
-- tenant-scoped link foreign keys NOT VALID and validates them, now across shards.
