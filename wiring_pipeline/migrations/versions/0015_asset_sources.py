"""One asset per machine across sources: source rows, precedence, candidates, conflicts.

Until now an asset belonged to one flow (DESIGN 3a), so a server that the CMDB and RVTools
both describe was two assets. Reconciliation (DESIGN 3e) keeps the asset and gives it one
*source row* per flow that describes it (`asset_sources`): the flow's identity key and
current record move there, with the record's normalised identifiers (`match_*`, what the
matching joins on, each indexed behind the tenant columns). Flows get a precedence (lower
wins; existing flows in the order they were added) and a per-field override; assets
record which flow gave each field (`field_sources`, NULL while one source gives all).
Matches the rules could not decide are kept for review (`match_candidates`), disagreements
between sources as `asset_conflicts`.

Every existing asset with a flow, a current record and a key gets its source row, its
identifiers computed from the asset's own values (which are its one record's). Every key
leads with the tenant columns, as a distributed PostgreSQL needs (`deploy/citus/`).

Revision ID: 0015_asset_sources
Revises: 0014_discarded_imports
"""

from alembic import op

revision = "0015_asset_sources"
down_revision = "0014_discarded_imports"
branch_labels = None
depends_on = None

API_ROLE = "wiring_api"
_TENANT = (
    "client_account_id = NULLIF(current_setting('wiring.client_account_id', true), '')::uuid"
    " AND engagement_id = NULLIF(current_setting('wiring.engagement_id', true), '')::uuid"
)
#: The normalised identifiers of a source row (the matching rules of this revision).
IDENTIFIERS = (
    "serial_number",
    "bios_uuid",
    "cloud_instance_id",
    "fqdn",
    "hostname",
    "ip_address",
    "name",
)
_PLACEHOLDERS = (
    "'', 'NONE', 'NULL', 'NA', 'UNKNOWN', '0', 'TOBEFILLEDBYOEM', 'DEFAULTSTRING',"
    " 'SYSTEMSERIALNUMBER', 'NOTSPECIFIED', 'NOTAVAILABLE', 'CHASSISSERIALNUMBER',"
    " '00000000000000000000000000000000', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF'"
)


def _code(column: str) -> str:
    value = f"upper(regexp_replace(a.{column}, '[^A-Za-z0-9]', '', 'g'))"
    return f"CASE WHEN {value} IN ({_PLACEHOLDERS}) THEN NULL ELSE {value} END"


def _short(value: str) -> str:
    short = f"split_part(lower(btrim({value})), '.', 1)"
    return (
        f"CASE WHEN btrim({value}) ~ '^[0-9.]+$' OR {short} IN ('', 'localhost', 'unknown',"
        f" 'none', 'null', 'n/a') THEN NULL ELSE {short} END"
    )


_FQDN = "lower(btrim(coalesce(a.fqdn, a.hostname)))"
BACKFILL_IDENTIFIERS = {
    "serial_number": _code("serial_number"),
    "bios_uuid": _code("bios_uuid"),
    "cloud_instance_id": "NULLIF(lower(btrim(a.cloud_instance_id)), '')",
    "fqdn": f"CASE WHEN {_FQDN} LIKE '%_._%' AND {_FQDN} !~ '^[0-9.]+$' THEN {_FQDN} END",
    "hostname": _short("coalesce(a.hostname, a.fqdn)"),
    "ip_address": "NULLIF(btrim(a.ip_address), '')",
    "name": _short("a.name"),
}


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE migration.discovery_flows
            ADD COLUMN precedence integer,
            ADD COLUMN field_precedence jsonb NOT NULL DEFAULT '{}'::jsonb;
        UPDATE migration.discovery_flows f SET precedence = o.position
        FROM (SELECT id, row_number() OVER (PARTITION BY client_account_id, engagement_id
                                            ORDER BY created_at, id) AS position
              FROM migration.discovery_flows) AS o
        WHERE o.id = f.id;
        ALTER TABLE migration.discovery_flows ALTER COLUMN precedence SET NOT NULL;
        ALTER TABLE migration.assets ADD COLUMN field_sources jsonb;
        """
    )
    identifiers = ", ".join(f"match_{name} text" for name in IDENTIFIERS)
    op.execute(
        f"""
        CREATE TABLE migration.asset_sources (
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            client_account_id uuid NOT NULL,
            engagement_id uuid NOT NULL,
            asset_id uuid,
            discovery_flow_id uuid,
            raw_import_record_id uuid,
            identity_key text NOT NULL,
            matched_on text NOT NULL,
            current_phase text NOT NULL DEFAULT 'current'
                CONSTRAINT ck_asset_sources_phase CHECK (current_phase IN ('current', 'retired')),
            {identifiers},
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (client_account_id, engagement_id, id)
        );
        CREATE UNIQUE INDEX uq_asset_sources_flow_key ON migration.asset_sources
            (client_account_id, engagement_id, discovery_flow_id, identity_key);
        CREATE UNIQUE INDEX uq_asset_sources_asset_flow ON migration.asset_sources
            (client_account_id, engagement_id, asset_id, discovery_flow_id);
        CREATE UNIQUE INDEX uq_asset_sources_record ON migration.asset_sources
            (client_account_id, engagement_id, raw_import_record_id);
        """
    )
    for name in IDENTIFIERS:
        op.execute(
            f"CREATE INDEX ix_asset_sources_match_{name} ON migration.asset_sources"
            f" (client_account_id, engagement_id, match_{name}, asset_id)"
            f" WHERE match_{name} IS NOT NULL AND current_phase = 'current'"
        )
    op.execute(
        """
        CREATE TABLE migration.match_candidates (
            id bigserial,
            client_account_id uuid NOT NULL,
            engagement_id uuid NOT NULL,
            asset_id uuid NOT NULL,
            candidate_asset_id uuid NOT NULL,
            raw_import_record_id uuid,
            rule text NOT NULL,
            reason text NOT NULL,
            status text NOT NULL DEFAULT 'open' CONSTRAINT ck_match_candidates_status
                CHECK (status IN ('open', 'merged', 'dismissed')),
            created_at timestamptz NOT NULL DEFAULT now(),
            decided_at timestamptz,
            PRIMARY KEY (client_account_id, engagement_id, id)
        );
        CREATE UNIQUE INDEX uq_match_candidates_pair ON migration.match_candidates
            (client_account_id, engagement_id, asset_id, candidate_asset_id);
        CREATE TABLE migration.asset_conflicts (
            client_account_id uuid NOT NULL,
            engagement_id uuid NOT NULL,
            asset_id uuid NOT NULL,
            field_name text NOT NULL,
            chosen_flow_id uuid,
            chosen_value jsonb,
            source_values jsonb NOT NULL,
            detected_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (client_account_id, engagement_id, asset_id, field_name)
        );
        """
    )
    columns = ", ".join(f"match_{name}" for name in IDENTIFIERS)
    values = ", ".join(BACKFILL_IDENTIFIERS[name] for name in IDENTIFIERS)
    op.execute(
        f"""
        INSERT INTO migration.asset_sources
            (client_account_id, engagement_id, asset_id, discovery_flow_id,
             raw_import_record_id, identity_key, matched_on, current_phase, {columns},
             created_at, updated_at)
        SELECT a.client_account_id, a.engagement_id, a.id, a.discovery_flow_id,
               a.raw_import_records_id, a.identity_key, 'new',
               CASE WHEN a.current_phase = 'retired' THEN 'retired' ELSE 'current' END,
               {values}, a.created_at, a.updated_at
        FROM migration.assets a
        WHERE a.discovery_flow_id IS NOT NULL AND a.raw_import_records_id IS NOT NULL
          AND a.identity_key IS NOT NULL
        ON CONFLICT DO NOTHING
        """
    )
    for table in ("asset_sources", "match_candidates", "asset_conflicts"):
        op.execute(
            f"""
            GRANT SELECT ON migration.{table} TO {API_ROLE};
            ALTER TABLE migration.{table} ENABLE ROW LEVEL SECURITY;
            CREATE POLICY api_tenant_rows ON migration.{table}
                FOR SELECT TO {API_ROLE} USING ({_TENANT});
            """
        )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE migration.asset_conflicts;
        DROP TABLE migration.match_candidates;
        DROP TABLE migration.asset_sources;
        ALTER TABLE migration.assets DROP COLUMN field_sources;
        ALTER TABLE migration.discovery_flows
            DROP COLUMN field_precedence, DROP COLUMN precedence;
        """
    )
