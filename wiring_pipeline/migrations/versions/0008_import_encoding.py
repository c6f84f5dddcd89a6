"""The encoding an import was read with, and an index for the completeness check.

`data_imports.encoding` records how `import` decided to decode a file (or what
`--encoding` said), so the loader reads it the same way. The partial index holds only the
raw records that were processed without becoming an asset (rejected in cleansing): the
`source_rows_not_in_inventory` metric counts them per import without reading the rest.

Revision ID: 0008_import_encoding
Revises: 0007_link_named_foreign_keys
"""

from alembic import op

revision = "0008_import_encoding"
down_revision = "0007_link_named_foreign_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE migration.data_imports ADD COLUMN encoding text;
        CREATE INDEX ix_raw_import_records_tenant_import_not_in_inventory
            ON migration.raw_import_records (client_account_id, engagement_id, data_import_id)
            WHERE is_processed AND asset_id IS NULL;
        CREATE INDEX ix_data_imports_tenant_flow
            ON migration.data_imports (client_account_id, engagement_id, discovery_flow_id);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX migration.ix_data_imports_tenant_flow;
        DROP INDEX migration.ix_raw_import_records_tenant_import_not_in_inventory;
        ALTER TABLE migration.data_imports DROP COLUMN encoding;
        """
    )
