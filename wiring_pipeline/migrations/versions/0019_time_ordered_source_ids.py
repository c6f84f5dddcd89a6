"""Time-ordered ids (UUIDv7) for the source rows too, as 0006 gave the records and assets.

Every import writes or moves about one `asset_sources` row per record, and a random id
lands each of them on a different page of the primary key: at a million records that index
no longer stays in the buffers. Ascending ids append. On a server older than PostgreSQL 18
the ids stay random, which is correct, only slower.

Revision ID: 0019_time_ordered_source_ids
Revises: 0018_verdict_in_archive
"""

from alembic import op
from sqlalchemy import text

revision = "0019_time_ordered_source_ids"
down_revision = "0018_verdict_in_archive"
branch_labels = None
depends_on = None

_TABLE = "migration.asset_sources"


def upgrade() -> None:
    if int(op.get_bind().execute(text("SHOW server_version_num")).scalar_one()) >= 180000:
        op.execute(f"ALTER TABLE {_TABLE} ALTER COLUMN id SET DEFAULT uuidv7()")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {_TABLE} ALTER COLUMN id SET DEFAULT gen_random_uuid()")
