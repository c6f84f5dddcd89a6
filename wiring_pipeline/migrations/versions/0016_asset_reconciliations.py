"""Merges and splits of assets by a person, recorded so that each can be undone.

`inventory merge` and `inventory split` (DESIGN 3e) correct what the matching decided. Like
the backfill's audit, each keeps what it changed (`before_state`: the rows as they were, and
what it moved) so that `inventory undo` puts the partition back exactly.

Revision ID: 0016_asset_reconciliations
Revises: 0015_asset_sources
"""

from alembic import op

revision = "0016_asset_reconciliations"
down_revision = "0015_asset_sources"
branch_labels = None
depends_on = None

API_ROLE = "wiring_api"
_TENANT = (
    "client_account_id = NULLIF(current_setting('wiring.client_account_id', true), '')::uuid"
    " AND engagement_id = NULLIF(current_setting('wiring.engagement_id', true), '')::uuid"
)


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE migration.asset_reconciliations (
            id bigserial,
            client_account_id uuid NOT NULL,
            engagement_id uuid NOT NULL,
            action text NOT NULL CONSTRAINT ck_asset_reconciliations_action
                CHECK (action IN ('merge', 'split')),
            asset_id uuid NOT NULL,
            other_asset_id uuid NOT NULL,
            before_state jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            undone_at timestamptz,
            PRIMARY KEY (client_account_id, engagement_id, id)
        );
        GRANT SELECT ON migration.asset_reconciliations TO {API_ROLE};
        ALTER TABLE migration.asset_reconciliations ENABLE ROW LEVEL SECURITY;
        CREATE POLICY api_tenant_rows ON migration.asset_reconciliations
            FOR SELECT TO {API_ROLE} USING ({_TENANT});
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE migration.asset_reconciliations")
