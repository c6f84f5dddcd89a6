"""The legacy schema as the source plan found it: no linkage columns, no foreign keys on links.

Assets know their flow only through the legacy `flow_id`; raw import records do not know
their asset, and nothing ties an asset to the record it came from.

Revision ID: 0001_legacy_schema
Revises:
"""

from alembic import op

revision = "0001_legacy_schema"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE migration.client_accounts (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            slug varchar(63) NOT NULL UNIQUE,
            name text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE migration.engagements (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            client_account_id uuid NOT NULL REFERENCES migration.client_accounts (id),
            slug varchar(63) NOT NULL,
            name text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_engagements_client_slug UNIQUE (client_account_id, slug)
        );

        CREATE TABLE migration.discovery_flows (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            flow_id uuid NOT NULL,
            master_flow_id uuid,
            client_account_id uuid NOT NULL,
            engagement_id uuid NOT NULL,
            flow_name text,
            status text NOT NULL DEFAULT 'active',
            field_mappings jsonb NOT NULL DEFAULT '{}'::jsonb,
            field_mappings_version_id uuid,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE migration.data_imports (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            client_account_id uuid NOT NULL,
            engagement_id uuid NOT NULL,
            import_name text,
            filename text NOT NULL,
            status text NOT NULL DEFAULT 'pending',
            total_records integer,
            created_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE migration.raw_import_records (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            client_account_id uuid NOT NULL,
            engagement_id uuid NOT NULL,
            data_import_id uuid REFERENCES migration.data_imports (id),
            row_number integer NOT NULL,
            raw_data jsonb NOT NULL,
            cleansed_data jsonb,
            is_processed boolean NOT NULL DEFAULT false,
            processed_at timestamptz,
            processing_notes text,
            created_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE migration.assets (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            client_account_id uuid NOT NULL,
            engagement_id uuid NOT NULL,
            name text NOT NULL,
            asset_type text,
            environment text,
            hostname text,
            ip_address text,
            operating_system text,
            os_version text,
            cpu_cores integer,
            memory_gb numeric,
            storage_gb numeric,
            owner text,
            location text,
            business_unit text,
            application_name text,
            criticality text,
            description text,
            serial_number text,
            manufacturer text,
            model text,
            flow_id uuid,
            discovery_method text,
            discovery_source text,
            discovery_timestamp timestamptz,
            custom_attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE INDEX ix_assets_client ON migration.assets (client_account_id);
        CREATE INDEX ix_raw_import_records_client
            ON migration.raw_import_records (client_account_id);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE migration.assets;
        DROP TABLE migration.raw_import_records;
        DROP TABLE migration.data_imports;
        DROP TABLE migration.discovery_flows;
        DROP TABLE migration.engagements;
        DROP TABLE migration.client_accounts;
        """
    )
