"""The raw record -> asset index holds only records that name an asset.

Every raw record is written three times (load, cleansing summary, link), and until the link
each write added an entry `(tenant, NULL)` to this index that no query asks for: lookups
by asset (the reverse-link metrics, the foreign key's checks when an asset goes) all name
an asset, and `asset_id = x` implies `asset_id IS NOT NULL`, so the partial index serves
them all. The records without an asset are found through the partial indexes on
`is_processed` instead.

Revision ID: 0011_partial_asset_link_index
Revises: 0010_reimport_identity_history
"""

from alembic import op

revision = "0011_partial_asset_link_index"
down_revision = "0010_reimport_identity_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        DROP INDEX migration.ix_raw_import_records_tenant_asset;
        CREATE INDEX ix_raw_import_records_tenant_asset
            ON migration.raw_import_records (client_account_id, engagement_id, asset_id)
            WHERE asset_id IS NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX migration.ix_raw_import_records_tenant_asset;
        CREATE INDEX ix_raw_import_records_tenant_asset
            ON migration.raw_import_records (client_account_id, engagement_id, asset_id);
        """
    )
