"""Linkage columns, tenant-leading indexes, and the keys the composite foreign keys reference.

The foreign keys themselves are not added here: real legacy data has orphans, so
`wiring_constraints_job` adds them NOT VALID and validates them once the backfill has
repaired every partition (phase 4 of the source plan).

The referenced keys are (client_account_id, engagement_id, id): a link can then only
point inside its own tenant and engagement, and every key leads with the column a
distributed PostgreSQL would shard on.

Revision ID: 0002_linkage_columns
Revises: 0001_legacy_schema
"""

from alembic import op

revision = "0002_linkage_columns"
down_revision = "0001_legacy_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE migration.assets
            ADD COLUMN discovery_flow_id uuid,
            ADD COLUMN master_flow_id uuid,
            ADD COLUMN raw_import_records_id uuid,
            ADD COLUMN field_mappings_used varchar(64),
            ADD COLUMN source_phase text,
            ADD COLUMN current_phase text;

        ALTER TABLE migration.raw_import_records
            ADD COLUMN asset_id uuid;

        ALTER TABLE migration.discovery_flows
            ADD CONSTRAINT uq_discovery_flows_tenant_id
                UNIQUE (client_account_id, engagement_id, id),
            ADD CONSTRAINT uq_discovery_flows_tenant_flow_id
                UNIQUE (client_account_id, engagement_id, flow_id);
        ALTER TABLE migration.raw_import_records
            ADD CONSTRAINT uq_raw_import_records_tenant_id
                UNIQUE (client_account_id, engagement_id, id);
        ALTER TABLE migration.assets
            ADD CONSTRAINT uq_assets_tenant_id
                UNIQUE (client_account_id, engagement_id, id);

        DROP INDEX migration.ix_assets_client;
        DROP INDEX migration.ix_raw_import_records_client;

        CREATE INDEX ix_assets_tenant_discovery_flow
            ON migration.assets (client_account_id, engagement_id, discovery_flow_id);
        CREATE INDEX ix_assets_tenant_flow_id
            ON migration.assets (client_account_id, engagement_id, flow_id)
            WHERE flow_id IS NOT NULL;
        -- One inventory asset per raw record: what makes concurrent runs unable to duplicate.
        CREATE UNIQUE INDEX uq_assets_tenant_raw_record
            ON migration.assets (client_account_id, engagement_id, raw_import_records_id)
            WHERE raw_import_records_id IS NOT NULL;
        CREATE INDEX ix_raw_import_records_tenant_asset
            ON migration.raw_import_records (client_account_id, engagement_id, asset_id);
        CREATE INDEX ix_raw_import_records_tenant_unprocessed
            ON migration.raw_import_records (client_account_id, engagement_id)
            WHERE NOT is_processed;
        CREATE INDEX ix_discovery_flows_tenant
            ON migration.discovery_flows (client_account_id, engagement_id);
        CREATE INDEX ix_data_imports_tenant
            ON migration.data_imports (client_account_id, engagement_id, status);
        """
    )


def downgrade() -> None:
    # The foreign keys that wiring_constraints_job may have added depend on these keys.
    op.execute(
        """
        ALTER TABLE migration.assets DROP CONSTRAINT IF EXISTS fk_assets_discovery_flow;
        ALTER TABLE migration.assets DROP CONSTRAINT IF EXISTS fk_assets_raw_import_record;
        ALTER TABLE migration.raw_import_records
            DROP CONSTRAINT IF EXISTS fk_raw_import_records_asset;
        DROP INDEX migration.ix_data_imports_tenant;
        DROP INDEX migration.ix_discovery_flows_tenant;
        DROP INDEX migration.ix_raw_import_records_tenant_unprocessed;
        DROP INDEX migration.ix_raw_import_records_tenant_asset;
        DROP INDEX migration.uq_assets_tenant_raw_record;
        DROP INDEX migration.ix_assets_tenant_flow_id;
        DROP INDEX migration.ix_assets_tenant_discovery_flow;
        CREATE INDEX ix_assets_client ON migration.assets (client_account_id);
        CREATE INDEX ix_raw_import_records_client
            ON migration.raw_import_records (client_account_id);

        ALTER TABLE migration.assets DROP CONSTRAINT uq_assets_tenant_id;
        ALTER TABLE migration.raw_import_records DROP CONSTRAINT uq_raw_import_records_tenant_id;
        ALTER TABLE migration.discovery_flows
            DROP CONSTRAINT uq_discovery_flows_tenant_flow_id,
            DROP CONSTRAINT uq_discovery_flows_tenant_id;

        ALTER TABLE migration.raw_import_records DROP COLUMN asset_id;
        ALTER TABLE migration.assets
            DROP COLUMN current_phase,
            DROP COLUMN source_phase,
            DROP COLUMN field_mappings_used,
            DROP COLUMN raw_import_records_id,
            DROP COLUMN master_flow_id,
            DROP COLUMN discovery_flow_id;
        """
    )
