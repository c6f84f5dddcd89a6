"""The HTTP API's access: bearer tokens, and row-level security as the second wall.

`api_tokens` holds only a SHA-256 of each token, with its scope (one partition, one client
account, or admin) as ids. Its scope columns are not named like the tenant columns: an
admin token belongs to no tenant, so this is not a tenant table (it stays on the Citus
coordinator) and it has no foreign keys to the registry: a token whose tenant is gone
simply no longer authenticates.

`wiring_api` is a role without login, without BYPASSRLS and owning nothing: the API
switches to it inside each request's transaction (`SET LOCAL ROLE`) after setting the
tenant of the request with `set_config(..., true)`. The policies show that role only rows
of that tenant (or, for an admin's `/metrics`, every snapshot); with nothing set it sees
no row at all. The owner, which the pipeline uses, is untouched: row security is ENABLEd,
never FORCEd, so a table's owner (and a superuser) bypasses it.

Revision ID: 0009_api_tokens_and_row_security
Revises: 0008_import_encoding
"""

from alembic import op

revision = "0009_api_tokens_and_row_security"
down_revision = "0008_import_encoding"
branch_labels = None
depends_on = None

API_ROLE = "wiring_api"

_CLIENT = "NULLIF(current_setting('wiring.client_account_id', true), '')::uuid"
_ENGAGEMENT = "NULLIF(current_setting('wiring.engagement_id', true), '')::uuid"
_ALL_TENANTS = "current_setting('wiring.all_tenants', true) = 'on'"
_TENANT = f"client_account_id = {_CLIENT} AND engagement_id = {_ENGAGEMENT}"

#: Every table that holds a tenant's rows, with the rows the API role may read.
POLICIES = {
    "client_accounts": f"id = {_CLIENT}",
    "engagements": f"client_account_id = {_CLIENT} AND id = {_ENGAGEMENT}",
    "discovery_flows": _TENANT,
    "data_imports": _TENANT,
    "raw_import_records": _TENANT,
    "assets": _TENANT,
    "import_rejected_rows": _TENANT,
    "cleansed_record_archive": _TENANT,
    "wiring_health_snapshots": f"({_TENANT}) OR {_ALL_TENANTS}",
    "backfill_runs": _TENANT,
    "backfill_audit": _TENANT,
}


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE migration.api_tokens (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            name text,
            scope_kind text NOT NULL CHECK (scope_kind IN ('partition', 'client', 'admin')),
            scope_client_account_id uuid,
            scope_engagement_id uuid,
            token_sha256 char(64) NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            last_used_at timestamptz,
            revoked_at timestamptz,
            CONSTRAINT ck_api_tokens_scope CHECK (
                (scope_kind = 'admin'
                    AND scope_client_account_id IS NULL AND scope_engagement_id IS NULL)
                OR (scope_kind = 'client'
                    AND scope_client_account_id IS NOT NULL AND scope_engagement_id IS NULL)
                OR (scope_kind = 'partition'
                    AND scope_client_account_id IS NOT NULL AND scope_engagement_id IS NOT NULL)
            )
        )
        """
    )
    # Roles belong to the server, not the database: another database may have made it.
    op.execute(
        f"""
        DO $$
        BEGIN
            CREATE ROLE {API_ROLE} NOLOGIN NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object THEN NULL;
        END $$;
        DO $$
        BEGIN
            IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                EXECUTE format('GRANT {API_ROLE} TO %I', current_user);
            END IF;
        END $$;
        GRANT USAGE ON SCHEMA migration TO {API_ROLE};
        """
    )
    for table, rows in POLICIES.items():
        op.execute(
            f"""
            GRANT SELECT ON migration.{table} TO {API_ROLE};
            ALTER TABLE migration.{table} ENABLE ROW LEVEL SECURITY;
            CREATE POLICY api_tenant_rows ON migration.{table}
                FOR SELECT TO {API_ROLE} USING ({rows});
            """
        )


def downgrade() -> None:
    for table in POLICIES:
        op.execute(
            f"""
            DROP POLICY api_tenant_rows ON migration.{table};
            ALTER TABLE migration.{table} DISABLE ROW LEVEL SECURITY;
            REVOKE ALL ON migration.{table} FROM {API_ROLE};
            """
        )
    op.execute(f"REVOKE ALL ON SCHEMA migration FROM {API_ROLE}")
    # The role stays while another database of the server still grants it something.
    op.execute(
        f"""
        DO $$
        BEGIN
            DROP ROLE {API_ROLE};
        EXCEPTION WHEN dependent_objects_still_exist THEN NULL;
        END $$;
        """
    )
    op.execute("DROP TABLE migration.api_tokens")
