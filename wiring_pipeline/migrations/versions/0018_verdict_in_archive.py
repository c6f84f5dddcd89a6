"""The cleansing's verdict moves to the archive; the raw record gets its summary with its link.

Each raw record used to be written three times: by the load, by the cleansing (its summary,
and its rejection), and by the inventory (its link), and neither update could be HOT
(DESIGN 1, 5). The cleansing now writes only the archive: each record's values and its
verdict (`verdict` NULL: cleansed; otherwise why it was rejected, as the record's note will
say it), with what the summary needs (`field_count`, `has_critical_fields`). The inventory
step writes the summary `{status, field_count, has_critical_fields, cleansed_at}` onto the
raw record in the one UPDATE that links it (or rejects it).

Upgrade copies each archived record's verdict from its raw record, and forgets the archived
values of records that were waiting to be cleansed again (their summary cleared): under
this contract an archive row means "cleansed by the flow's current spec". Downgrade writes
the summaries of records still waiting for the inventory back onto them, as the old
cleansing would have.

Revision ID: 0018_verdict_in_archive
Revises: 0017_retirement_guard
"""

from alembic import op

revision = "0018_verdict_in_archive"
down_revision = "0017_retirement_guard"
branch_labels = None
depends_on = None

_REJECTED = "Rejected: "


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE migration.cleansed_record_archive
            ADD COLUMN verdict text,
            ADD COLUMN field_count integer,
            ADD COLUMN has_critical_fields boolean
        """
    )
    op.execute(
        """
        DELETE FROM migration.cleansed_record_archive c
        USING migration.raw_import_records r
        WHERE r.client_account_id = c.client_account_id AND r.engagement_id = c.engagement_id
          AND r.id = c.raw_import_record_id AND r.cleansed_data IS NULL
        """
    )
    op.execute(
        f"""
        UPDATE migration.cleansed_record_archive c
        SET field_count = (r.cleansed_data ->> 'field_count')::integer,
            has_critical_fields = (r.cleansed_data ->> 'has_critical_fields')::boolean,
            verdict = CASE WHEN r.cleansed_data ->> 'status' = 'rejected' THEN
                CASE WHEN r.processing_notes LIKE '{_REJECTED}%'
                     THEN substr(r.processing_notes, {len(_REJECTED) + 1})
                     ELSE coalesce(r.processing_notes, 'rejected') END END
        FROM migration.raw_import_records r
        WHERE r.client_account_id = c.client_account_id AND r.engagement_id = c.engagement_id
          AND r.id = c.raw_import_record_id
        """
    )


def downgrade() -> None:
    op.execute(
        f"""
        UPDATE migration.raw_import_records r
        SET cleansed_data = jsonb_build_object(
                'status', CASE WHEN c.verdict IS NULL THEN 'cleansed' ELSE 'rejected' END,
                'field_count', c.field_count,
                'has_critical_fields', c.has_critical_fields,
                'cleansed_at', c.cleansed_at),
            is_processed = c.verdict IS NOT NULL,
            processed_at = CASE WHEN c.verdict IS NOT NULL THEN c.cleansed_at END,
            processing_notes = '{_REJECTED}' || c.verdict
        FROM migration.cleansed_record_archive c
        WHERE r.client_account_id = c.client_account_id AND r.engagement_id = c.engagement_id
          AND r.id = c.raw_import_record_id AND r.cleansed_data IS NULL
          AND NOT r.is_processed AND r.asset_id IS NULL
        """
    )
    op.execute(
        """
        ALTER TABLE migration.cleansed_record_archive
            DROP COLUMN has_critical_fields, DROP COLUMN field_count, DROP COLUMN verdict
        """
    )
