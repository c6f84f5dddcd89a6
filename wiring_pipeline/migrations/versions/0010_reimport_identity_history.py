"""Re-imports (DESIGN 3a): asset identity per flow, superseded records, asset history.

* `discovery_flows.identity_key_columns`: the source column(s) whose trimmed, case-folded
  values identify an inventory asset of the flow across imports. Existing flows get the
  default: the column mapped to `hostname`, else the one mapped to `name`.
* `assets.identity_key` with a unique index per (tenant, engagement, flow, key): one current
  or retired asset per server ever seen, which also keeps two concurrent re-imports from
  creating one server twice. Existing flow-based assets get the key of their raw record; when
  earlier re-imports already doubled a server, only its newest asset gets the key (the older
  copies keep none: nothing is deleted by a migration).
* `cleansed_record_archive.identity_key`: each cleansed record's key, computed once.
* `raw_import_records.superseded_by`: the record that replaced this one as its asset's
  current record. Its tenant-scoped foreign key is added by `wiring_constraints_job`, as the
  others are (legacy data may hold anything).
* `asset_history`: every field a re-import changed, with the import and old and new value.
* `data_imports.is_partial`: a partial export retires nothing.
* `asset_history` is a tenant table with the row-level security policy of the others (0009).

Revision ID: 0010_reimport_identity_history
Revises: 0009_api_tokens_and_row_security
"""

from alembic import op

revision = "0010_reimport_identity_history"
down_revision = "0009_api_tokens_and_row_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE migration.discovery_flows ADD COLUMN identity_key_columns text[];
        UPDATE migration.discovery_flows f
        SET identity_key_columns = ARRAY[k.source]
        FROM (
            SELECT DISTINCT ON (f2.id) f2.id, m.key AS source
            FROM migration.discovery_flows f2
            CROSS JOIN LATERAL jsonb_each_text(f2.field_mappings) AS m
            WHERE jsonb_typeof(f2.field_mappings) = 'object' AND m.value IN ('hostname', 'name')
            ORDER BY f2.id, m.value = 'hostname' DESC
        ) AS k
        WHERE f.id = k.id;

        ALTER TABLE migration.data_imports
            ADD COLUMN is_partial boolean NOT NULL DEFAULT false;
        CREATE INDEX ix_data_imports_tenant_flow_sha256
            ON migration.data_imports
               (client_account_id, engagement_id, discovery_flow_id, source_sha256);

        ALTER TABLE migration.cleansed_record_archive ADD COLUMN identity_key text;

        ALTER TABLE migration.raw_import_records ADD COLUMN superseded_by uuid;

        ALTER TABLE migration.assets ADD COLUMN identity_key text;
        UPDATE migration.assets a
        SET identity_key = k.identity_key
        FROM (
            SELECT DISTINCT ON (a2.client_account_id, a2.engagement_id, a2.discovery_flow_id,
                                lower(btrim(r.raw_data ->> f.identity_key_columns[1])))
                   a2.id, lower(btrim(r.raw_data ->> f.identity_key_columns[1])) AS identity_key
            FROM migration.assets a2
            JOIN migration.discovery_flows f
              ON f.client_account_id = a2.client_account_id
             AND f.engagement_id = a2.engagement_id AND f.id = a2.discovery_flow_id
            JOIN migration.raw_import_records r
              ON r.client_account_id = a2.client_account_id
             AND r.engagement_id = a2.engagement_id AND r.id = a2.raw_import_records_id
            WHERE NULLIF(btrim(r.raw_data ->> f.identity_key_columns[1]), '') IS NOT NULL
            ORDER BY a2.client_account_id, a2.engagement_id, a2.discovery_flow_id,
                     lower(btrim(r.raw_data ->> f.identity_key_columns[1])),
                     a2.created_at DESC, a2.id DESC
        ) AS k
        WHERE a.id = k.id;
        -- How a re-import finds the asset of a key: the flow's assets by key.
        CREATE UNIQUE INDEX uq_assets_tenant_flow_identity
            ON migration.assets (client_account_id, engagement_id, discovery_flow_id, identity_key)
            WHERE identity_key IS NOT NULL;

        CREATE TABLE migration.asset_history (
            id bigserial PRIMARY KEY,
            client_account_id uuid NOT NULL,
            engagement_id uuid NOT NULL,
            asset_id uuid NOT NULL,
            data_import_id uuid,
            raw_import_record_id uuid,
            change text NOT NULL,
            field_name text NOT NULL,
            old_value jsonb,
            new_value jsonb,
            changed_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_asset_history_change
                CHECK (change IN ('updated', 'retired', 'revived')),
            CONSTRAINT fk_asset_history_asset
                FOREIGN KEY (client_account_id, engagement_id, asset_id)
                REFERENCES migration.assets (client_account_id, engagement_id, id)
                ON DELETE CASCADE
        );
        CREATE INDEX ix_asset_history_tenant_asset
            ON migration.asset_history (client_account_id, engagement_id, asset_id, id);

        -- A tenant table like the others (0009): the API role reads one tenant's rows only.
        GRANT SELECT ON migration.asset_history TO wiring_api;
        ALTER TABLE migration.asset_history ENABLE ROW LEVEL SECURITY;
        CREATE POLICY api_tenant_rows ON migration.asset_history FOR SELECT TO wiring_api
            USING (client_account_id
                       = NULLIF(current_setting('wiring.client_account_id', true), '')::uuid
                   AND engagement_id
                       = NULLIF(current_setting('wiring.engagement_id', true), '')::uuid);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE migration.asset_history;
        DROP INDEX migration.uq_assets_tenant_flow_identity;
        ALTER TABLE migration.assets DROP COLUMN identity_key;
        ALTER TABLE migration.raw_import_records
            DROP CONSTRAINT IF EXISTS fk_raw_import_records_superseded_by;
        ALTER TABLE migration.raw_import_records DROP COLUMN superseded_by;
        ALTER TABLE migration.cleansed_record_archive DROP COLUMN identity_key;
        DROP INDEX migration.ix_data_imports_tenant_flow_sha256;
        ALTER TABLE migration.data_imports DROP COLUMN is_partial;
        ALTER TABLE migration.discovery_flows DROP COLUMN identity_key_columns;
        """
    )
