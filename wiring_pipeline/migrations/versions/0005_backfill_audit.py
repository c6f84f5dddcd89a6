"""The backfill's audit trail: every value it changes, so that one run can be undone.

`backfill_runs` records executed runs only: a dry run changes nothing, not even this table.

Revision ID: 0005_backfill_audit
Revises: 0004_wiring_health_snapshots
"""

from alembic import op

revision = "0005_backfill_audit"
down_revision = "0004_wiring_health_snapshots"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE migration.backfill_runs (
            run_id text PRIMARY KEY,
            client_account_id uuid NOT NULL,
            engagement_id uuid NOT NULL,
            partition_key text NOT NULL,
            counts jsonb NOT NULL DEFAULT '{}'::jsonb,
            started_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            undone_at timestamptz
        );
        CREATE INDEX ix_backfill_runs_tenant
            ON migration.backfill_runs (client_account_id, engagement_id);

        CREATE TABLE migration.backfill_audit (
            id bigserial PRIMARY KEY,
            run_id text NOT NULL,
            client_account_id uuid NOT NULL,
            engagement_id uuid NOT NULL,
            repair text NOT NULL,
            table_name text NOT NULL,
            row_id uuid NOT NULL,
            column_name text NOT NULL,
            old_value jsonb,
            new_value jsonb,
            changed_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_backfill_audit_tenant_run
            ON migration.backfill_audit (client_account_id, engagement_id, run_id);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE migration.backfill_audit;
        DROP TABLE migration.backfill_runs;
        """
    )
