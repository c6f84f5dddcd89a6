"""Time-ordered ids (UUIDv7) for the two tables the pipeline fills in bulk.

A million random UUIDs land all over every index that holds the id (the primary key and
the tenant-leading `(client_account_id, engagement_id, id)` keys the foreign keys
reference), touching a different page per row; UUIDv7 ids of one load are ascending, so
they append. PostgreSQL 18 has `uuidv7()`; on an older server the ids stay random, which
is correct, only slower.

Revision ID: 0006_time_ordered_ids
Revises: 0005_backfill_audit
"""

from alembic import op
from sqlalchemy import text

revision = "0006_time_ordered_ids"
down_revision = "0005_backfill_audit"
branch_labels = None
depends_on = None

TABLES = ("migration.raw_import_records", "migration.assets")


def _has_uuidv7() -> bool:
    version = op.get_bind().execute(text("SHOW server_version_num")).scalar_one()
    return int(version) >= 180000


def upgrade() -> None:
    if _has_uuidv7():
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT uuidv7()")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT gen_random_uuid()")
