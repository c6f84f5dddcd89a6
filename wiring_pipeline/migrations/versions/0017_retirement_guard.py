"""A full export that would retire much of its flow's estate waits for a person to confirm.

A consultant who imports one sheet of several, or a filtered view, as a full export would
retire the rest of the estate in one run (DESIGN 3f). The import now remembers how many
retirements it holds (`retirement_held`) and when a person confirmed them
(`retirement_confirmed_at`, by `run --confirm-retire IMPORT_ID`).

Revision ID: 0017_retirement_guard
Revises: 0016_asset_reconciliations
"""

from alembic import op

revision = "0017_retirement_guard"
down_revision = "0016_asset_reconciliations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE migration.data_imports
            ADD COLUMN retirement_held integer,
            ADD COLUMN retirement_confirmed_at timestamptz
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE migration.data_imports
            DROP COLUMN retirement_confirmed_at, DROP COLUMN retirement_held
        """
    )
