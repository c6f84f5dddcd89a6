"""What reconciliation (DESIGN 3e) shows a consultant: coverage, conflicts, candidates.

Coverage answers the engagement's first question: which machines each source knows (the
servers the CMDB has never heard of, the CMDB entries nothing runs). Conflicts and match
candidates are what the sources disagree on and what a person must decide. Each is one
read of the partition, scoped by both tenant columns.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from wiring_pipeline.domain.contract.states import RETIRED_PHASE
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter

SAMPLE_LIMIT = 5
MAX_ROWS = 1000

_FLOW_LABEL = "coalesce(f.flow_name, f.flow_id::text)"

_COVERAGE_SQL = f"""
WITH seen AS (
    SELECT a.id, a.name,
           coalesce(array_agg({_FLOW_LABEL} ORDER BY f.precedence, f.id)
                    FILTER (WHERE f.id IS NOT NULL), '{{}}') AS sources
    FROM migration.assets a
    LEFT JOIN migration.asset_sources s
      ON {tenant_filter("s")} AND s.asset_id = a.id AND s.current_phase = 'current'
    LEFT JOIN migration.discovery_flows f ON {tenant_filter("f")} AND f.id = s.discovery_flow_id
    WHERE {tenant_filter("a")} AND a.current_phase IS DISTINCT FROM '{RETIRED_PHASE}'
    GROUP BY a.id, a.name
)
SELECT sources, count(*) AS assets,
       (array_agg(jsonb_build_object('id', id, 'name', name) ORDER BY name, id))[1:{SAMPLE_LIMIT}]
           AS samples
FROM seen GROUP BY sources ORDER BY count(*) DESC, sources
"""

_FLOWS_SQL = f"""
SELECT {_FLOW_LABEL} AS label FROM migration.discovery_flows f
WHERE {tenant_filter("f")} AND EXISTS (
    SELECT 1 FROM migration.asset_sources s
    WHERE {tenant_filter("s")} AND s.discovery_flow_id = f.id)
ORDER BY f.precedence, f.id
"""


def coverage(conn: Connection, scope: TenantScope) -> dict:
    """Current assets per combination of the sources that currently describe them."""
    params = scope.as_params()
    rows = conn.execute(text(_COVERAGE_SQL), params).all()
    return {
        "partition": scope.partition_key,
        "sources": list(conn.execute(text(_FLOWS_SQL), params).scalars()),
        "assets": sum(row.assets for row in rows),
        "combinations": [
            {"sources": list(row.sources), "assets": row.assets, "samples": row.samples}
            for row in rows
        ],
    }


def coverage_table(report: dict) -> str:
    """The coverage as a Markdown table (the `asset_inventory` materialisation shows it)."""
    lines = ["| sources | assets | e.g. |", "|---|---:|---|"]
    for combination in report["combinations"]:
        sources = " + ".join(combination["sources"]) or "(none: legacy)"
        examples = ", ".join(sample["name"] for sample in combination["samples"][:3])
        lines.append(f"| {sources} | {combination['assets']} | {examples} |")
    return "\n".join(lines)


_CONFLICTS_SQL = f"""
SELECT x.asset_id, a.name, x.field_name, x.chosen_value, x.detected_at,
       (SELECT {_FLOW_LABEL} FROM migration.discovery_flows f
        WHERE {tenant_filter("f")} AND f.id = x.chosen_flow_id) AS chosen_source,
       (SELECT jsonb_object_agg(coalesce(f.flow_name, v.key), v.value)
        FROM jsonb_each(x.source_values) AS v(key, value)
        LEFT JOIN migration.discovery_flows f
          ON {tenant_filter("f")} AND f.id::text = v.key) AS source_values
FROM migration.asset_conflicts x
JOIN migration.assets a ON {tenant_filter("a")} AND a.id = x.asset_id
WHERE {tenant_filter("x")}
ORDER BY a.name, x.asset_id, x.field_name
LIMIT :limit
"""


def conflicts(conn: Connection, scope: TenantScope, limit: int = MAX_ROWS) -> list[dict]:
    """Fields on which an asset's current sources disagree: each value, and the one kept."""
    rows = conn.execute(text(_CONFLICTS_SQL), {**scope.as_params(), "limit": limit}).all()
    return [
        {
            "asset_id": str(row.asset_id),
            "name": row.name,
            "field": row.field_name,
            "chosen": {"source": row.chosen_source, "value": row.chosen_value},
            "values": row.source_values,
            "detected_at": row.detected_at.isoformat(),
        }
        for row in rows
    ]


_MATCHES_SQL = f"""
SELECT m.id, m.asset_id, a.name, m.candidate_asset_id, c.name AS candidate_name, m.rule,
       m.reason, m.created_at
FROM migration.match_candidates m
JOIN migration.assets a ON {tenant_filter("a")} AND a.id = m.asset_id
JOIN migration.assets c ON {tenant_filter("c")} AND c.id = m.candidate_asset_id
WHERE {tenant_filter("m")} AND m.status = 'open'
ORDER BY m.created_at, m.id
LIMIT :limit
"""


def match_candidates(conn: Connection, scope: TenantScope, limit: int = MAX_ROWS) -> list[dict]:
    """Possible matches left for review: `inventory merge KEEP OTHER` confirms one."""
    rows = conn.execute(text(_MATCHES_SQL), {**scope.as_params(), "limit": limit}).all()
    return [
        {
            "id": row.id,
            "asset": {"id": str(row.asset_id), "name": row.name},
            "candidate": {"id": str(row.candidate_asset_id), "name": row.candidate_name},
            "rule": row.rule,
            "reason": row.reason,
            "created_at": row.created_at.isoformat(),
        }
        for row in rows
    ]
