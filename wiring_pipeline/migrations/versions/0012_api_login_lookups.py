"""What the API's own login may look up past row-level security, and nothing more.

The API logs in as `wiring_api` itself (neither superuser nor owner, a member of no other
role), so no `SET ROLE` or `RESET ROLE` takes it past the policies of revision 0009. Three
things a request needs before its tenant is known cannot be read through those policies:
the presented token's row, the recording of its use, and the ids of the partition a key
names. They are functions that run as their owner (SECURITY DEFINER, with a fixed
search_path), executable by `wiring_api` only, each answering for one token id or one key:
the login cannot list tokens nor read any tenant's rows through them.

Recording a use skips a token row another transaction holds (`FOR UPDATE SKIP LOCKED`),
and the API calls it in a short transaction of its own: a request never waits on another
request's use of the same token.

Revision ID: 0012_api_login_lookups
Revises: 0011_partial_asset_link_index
"""

from alembic import op

revision = "0012_api_login_lookups"
down_revision = "0011_partial_asset_link_index"
branch_labels = None
depends_on = None

API_ROLE = "wiring_api"
_DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
_STALE = "(t.last_used_at IS NULL OR t.last_used_at < now() - make_interval(secs => $2))"

FUNCTIONS = {
    # Slugs come from the registry, so a token whose tenant was removed finds none.
    "api_token(uuid, integer)": f"""
        RETURNS TABLE (id uuid, scope_kind text, token_sha256 text, revoked_at timestamptz,
                       client_slug text, engagement_slug text, stale boolean)
        LANGUAGE sql STABLE {_DEFINER} AS $$
            SELECT t.id, t.scope_kind, t.token_sha256::text, t.revoked_at, c.slug, e.slug,
                   {_STALE}
            FROM migration.api_tokens t
            LEFT JOIN migration.client_accounts c ON c.id = t.scope_client_account_id
            LEFT JOIN migration.engagements e
                ON e.id = t.scope_engagement_id
                AND e.client_account_id = t.scope_client_account_id
            WHERE t.id = $1
        $$""",
    "api_record_token_use(uuid, integer)": f"""
        RETURNS boolean LANGUAGE sql VOLATILE {_DEFINER} AS $$
            WITH free AS (
                SELECT t.id FROM migration.api_tokens t
                WHERE t.id = $1 AND {_STALE}
                FOR UPDATE SKIP LOCKED
            ), used AS (
                UPDATE migration.api_tokens t SET last_used_at = now()
                FROM free WHERE t.id = free.id
                RETURNING t.id
            )
            SELECT EXISTS (SELECT 1 FROM used)
        $$""",
    "api_partition(text, text)": f"""
        RETURNS TABLE (client_account_id uuid, engagement_id uuid)
        LANGUAGE sql STABLE {_DEFINER} AS $$
            SELECT c.id, e.id
            FROM migration.client_accounts c
            JOIN migration.engagements e ON e.client_account_id = c.id
            WHERE c.slug = $1 AND e.slug = $2
        $$""",
}


def upgrade() -> None:
    for signature, body in FUNCTIONS.items():
        op.execute(f"CREATE FUNCTION migration.{signature} {body}")
        op.execute(f"REVOKE ALL ON FUNCTION migration.{signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION migration.{signature} TO {API_ROLE}")


def downgrade() -> None:
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION migration.{signature}")
