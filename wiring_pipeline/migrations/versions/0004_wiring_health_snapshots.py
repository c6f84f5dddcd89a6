"""History of wiring health: one row per measurement of a partition; the first is its baseline.

Revision ID: 0004_wiring_health_snapshots
Revises: 0003_import_pipeline_tables
"""

from alembic import op

revision = "0004_wiring_health_snapshots"
down_revision = "0003_import_pipeline_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE migration.wiring_health_snapshots (
            id bigserial PRIMARY KEY,
            client_account_id uuid NOT NULL,
            engagement_id uuid NOT NULL,
            partition_key text NOT NULL,
            measured_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            metrics jsonb NOT NULL,
            health_status text NOT NULL CHECK (health_status IN ('healthy', 'unhealthy')),
            dagster_run_id text
        );
        CREATE INDEX ix_wiring_health_snapshots_tenant
            ON migration.wiring_health_snapshots (client_account_id, engagement_id, id);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE migration.wiring_health_snapshots")
