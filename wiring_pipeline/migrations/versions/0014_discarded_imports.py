"""An import can be discarded before it is loaded (`import discard ID`, DESIGN 3f).

A pending import that should never load (the wrong file, a sheet registered by mistake)
had no way out: every run loaded it. `discarded` joins the statuses an import may have.

Revision ID: 0014_discarded_imports
Revises: 0013_flow_specs_export_fields
"""

from alembic import op

revision = "0014_discarded_imports"
down_revision = "0013_flow_specs_export_fields"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE migration.data_imports
            DROP CONSTRAINT ck_data_imports_status,
            ADD CONSTRAINT ck_data_imports_status
                CHECK (status IN ('pending', 'loaded', 'failed', 'discarded'));
        """
    )


def downgrade() -> None:
    op.execute(
        """
        UPDATE migration.data_imports SET status = 'failed' WHERE status = 'discarded';
        ALTER TABLE migration.data_imports
            DROP CONSTRAINT ck_data_imports_status,
            ADD CONSTRAINT ck_data_imports_status
                CHECK (status IN ('pending', 'loaded', 'failed'));
        """
    )
