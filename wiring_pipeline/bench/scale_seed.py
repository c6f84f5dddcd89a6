"""Thousands of engagements for the scale benchmark, written set-based in a few statements.

Ten engagements per client account, each with its discovery flow and a few linked asset /
raw-record pairs; one engagement in a hundred is broken (a flow-based asset with no flow
and an unprocessed raw record), and the first engagements each have a pending import. The
rows are what the pipeline would have written; nothing here goes through a partition's unit
of work, since seeding ten thousand of them one by one is what the benchmark measures the
absence of.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

ENGAGEMENTS_PER_CLIENT = 10
PAIRS_PER_PARTITION = 5
#: One engagement in this many is broken.
BROKEN_EVERY = 100
CLIENT_PREFIX = "scale-c"

_SEED_SQL = (
    """
    INSERT INTO migration.client_accounts (slug, name)
    SELECT :prefix || lpad(c::text, 5, '0'), 'Scale client ' || c
    FROM generate_series(1, (:tenants + :per_client - 1) / :per_client) c
    """,
    """
    INSERT INTO migration.engagements (client_account_id, slug, name)
    SELECT ca.id, 'e-' || lpad(g::text, 5, '0'), 'Scale engagement ' || g
    FROM generate_series(1, :tenants) g
    JOIN migration.client_accounts ca
      ON ca.slug = :prefix || lpad(((g - 1) / :per_client + 1)::text, 5, '0')
    """,
    """
    INSERT INTO migration.discovery_flows
        (client_account_id, engagement_id, flow_id, flow_name, precedence)
    SELECT e.client_account_id, e.id, gen_random_uuid(), 'scale', 1
    FROM migration.engagements e
    """,
    """
    CREATE TEMPORARY TABLE scale_pairs ON COMMIT DROP AS
    SELECT f.client_account_id, f.engagement_id, f.id AS discovery_flow_id, n,
           gen_random_uuid() AS asset_id, gen_random_uuid() AS raw_id
    FROM migration.discovery_flows f CROSS JOIN generate_series(1, :pairs) n
    """,
    """
    INSERT INTO migration.raw_import_records
        (id, client_account_id, engagement_id, row_number, raw_data, is_processed,
         processing_notes, asset_id)
    SELECT raw_id, client_account_id, engagement_id, n, jsonb_build_object('Hostname', n),
           true, 'Linked to: scale seed', asset_id
    FROM scale_pairs
    """,
    """
    INSERT INTO migration.assets
        (id, client_account_id, engagement_id, name, asset_type, discovery_method,
         discovery_flow_id, raw_import_records_id)
    SELECT asset_id, client_account_id, engagement_id, 'host-' || n, 'Server', 'flow_based',
           discovery_flow_id, raw_id
    FROM scale_pairs
    """,
    # The broken ones: every BROKEN_EVERY-th engagement in slug order.
    """
    CREATE TEMPORARY TABLE scale_broken ON COMMIT DROP AS
    SELECT client_account_id, id AS engagement_id FROM (
        SELECT e.*, row_number() OVER (ORDER BY e.slug) AS k FROM migration.engagements e
    ) numbered WHERE k % :broken_every = 0
    """,
    """
    INSERT INTO migration.assets
        (client_account_id, engagement_id, name, discovery_method, discovery_flow_id)
    SELECT client_account_id, engagement_id, 'no-flow', 'flow_based', NULL FROM scale_broken
    """,
    """
    INSERT INTO migration.raw_import_records
        (client_account_id, engagement_id, row_number, raw_data, is_processed)
    SELECT client_account_id, engagement_id, 0, '{}'::jsonb, false FROM scale_broken
    """,
    """
    INSERT INTO migration.data_imports (client_account_id, engagement_id, filename, status)
    SELECT e.client_account_id, e.id, 'scale.csv', 'pending'
    FROM migration.engagements e ORDER BY e.slug LIMIT :pending
    """,
)


@dataclass(frozen=True)
class ScaleSeed:
    tenants: int
    broken: int
    pending_imports: int


def seed_engagements(conn: Connection, tenants: int, pending_imports: int) -> ScaleSeed:
    """Write `tenants` engagements (and their rows) in the caller's transaction."""
    params = {
        "prefix": CLIENT_PREFIX,
        "tenants": tenants,
        "per_client": ENGAGEMENTS_PER_CLIENT,
        "pairs": PAIRS_PER_PARTITION,
        "broken_every": BROKEN_EVERY,
        "pending": pending_imports,
    }
    for statement in _SEED_SQL:
        conn.execute(text(statement), params)
    return ScaleSeed(tenants, tenants // BROKEN_EVERY, min(pending_imports, tenants))
