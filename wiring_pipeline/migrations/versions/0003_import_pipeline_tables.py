"""What the import pipeline needs: import bookkeeping, rejected rows, the cleansed archive.

Rows that cannot be read are kept with their reason and raw text; the full cleansed
values live in an archive table so that `raw_import_records.cleansed_data` stays a small
summary (the plan's "minimal cleansed data" against table bloat).

Revision ID: 0003_import_pipeline_tables
Revises: 0002_linkage_columns
"""

from alembic import op

revision = "0003_import_pipeline_tables"
down_revision = "0002_linkage_columns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE migration.data_imports
            ADD COLUMN discovery_flow_id uuid,
            ADD COLUMN stored_path text,
            ADD COLUMN file_format text,
            ADD COLUMN sheet_name text,
            ADD COLUMN source_sha256 varchar(64),
            ADD COLUMN loaded_rows integer,
            ADD COLUMN rejected_rows integer,
            ADD COLUMN error text,
            ADD COLUMN loaded_at timestamptz,
            ADD CONSTRAINT ck_data_imports_status
                CHECK (status IN ('pending', 'loaded', 'failed'));

        ALTER TABLE migration.raw_import_records
            ADD CONSTRAINT uq_raw_import_records_import_row
                UNIQUE (client_account_id, engagement_id, data_import_id, row_number);

        CREATE TABLE migration.import_rejected_rows (
            id bigserial PRIMARY KEY,
            client_account_id uuid NOT NULL,
            engagement_id uuid NOT NULL,
            data_import_id uuid NOT NULL REFERENCES migration.data_imports (id),
            row_number integer NOT NULL,
            reason text NOT NULL,
            raw_text text,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_import_rejected_rows_tenant
            ON migration.import_rejected_rows (client_account_id, engagement_id, data_import_id);

        CREATE TABLE migration.cleansed_record_archive (
            raw_import_record_id uuid PRIMARY KEY,
            client_account_id uuid NOT NULL,
            engagement_id uuid NOT NULL,
            cleansed_values jsonb NOT NULL,
            field_mappings_version_id uuid,
            cleansed_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_cleansed_record_archive_tenant
            ON migration.cleansed_record_archive (client_account_id, engagement_id);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE migration.cleansed_record_archive;
        DROP TABLE migration.import_rejected_rows;
        ALTER TABLE migration.raw_import_records
            DROP CONSTRAINT uq_raw_import_records_import_row;
        ALTER TABLE migration.data_imports
            DROP CONSTRAINT ck_data_imports_status,
            DROP COLUMN loaded_at,
            DROP COLUMN error,
            DROP COLUMN rejected_rows,
            DROP COLUMN loaded_rows,
            DROP COLUMN source_sha256,
            DROP COLUMN sheet_name,
            DROP COLUMN file_format,
            DROP COLUMN stored_path,
            DROP COLUMN discovery_flow_id;
        """
    )
