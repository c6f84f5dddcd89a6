"""Rename the wiring's foreign keys after their links (`fk_<table>_<link>`).

The wiring contract (`domain/contract/`) gives each link one name, used by its metric,
its repairs and its foreign key. The keys are added by `wiring_constraints_job`, not by a
migration, so a database may hold them under their earlier names, or not at all: each is
renamed only if present. Renaming takes a brief ACCESS EXCLUSIVE lock and reads no rows;
a validated key stays validated.

Revision ID: 0007_link_named_foreign_keys
Revises: 0006_time_ordered_ids
"""

from alembic import op

revision = "0007_link_named_foreign_keys"
down_revision = "0006_time_ordered_ids"
branch_labels = None
depends_on = None

#: (table, earlier name, link name); the link names are `Link.foreign_key` of the contract.
RENAMES = (
    ("assets", "fk_assets_discovery_flow", "fk_assets_flow_ref"),
    ("assets", "fk_assets_raw_import_record", "fk_assets_raw_import_ref"),
    ("raw_import_records", "fk_raw_import_records_asset", "fk_raw_import_records_asset_ref"),
)


def _rename(table: str, old: str, new: str) -> None:
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_constraint c
                       JOIN pg_namespace n ON n.oid = c.connamespace
                       WHERE n.nspname = 'migration' AND c.conname = '{old}') THEN
                ALTER TABLE migration.{table} RENAME CONSTRAINT {old} TO {new};
            END IF;
        END $$
        """
    )


def upgrade() -> None:
    for table, old, new in RENAMES:
        _rename(table, old, new)


def downgrade() -> None:
    for table, old, new in RENAMES:
        _rename(table, new, old)
