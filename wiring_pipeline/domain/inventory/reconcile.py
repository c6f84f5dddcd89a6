"""One machine, one asset, across sources: the inventory step's reconciliation (DESIGN 3e).

Run per import, in the caller's transaction, around the statements of `writes.py`:

* `RETIRE_SQL` (a full export) retires the flow's source rows whose key it lacks, and the
  assets left with no current source; an asset another source still describes is only
  re-derived. An export that would retire much of its flow's estate holds its retirements
  until a person confirms them (`retirement_held`, DESIGN 3f);
* `RECONCILE_SQL` finds, for each record no source row of its flow knows, the machine of
  another source it describes (`matching.IDENTIFIERS`, set-based over the indexed `match_*`
  columns): a pair agrees on an identifier, and none that vetoes differs; of several, the
  one agreeing on most (then the strongest) wins if alone; an asset that two records claim,
  or a record that several machines fit equally, joins nothing and leaves candidates, as
  does a pair whose strongest agreement is vetoed by a weaker identifier (a clone, or a
  renamed server: a person decides);
* `SOURCES_SQL` gives each new record its source row and moves existing ones to the new
  record; `CANDIDATES_SQL` keeps the undecided pairs for review;
* `DERIVE_SQL` re-derives each asset several current sources describe: every field from the
  highest-precedence source that has it (per-field precedence first, then the flow's),
  the sources that gave them (`field_sources`, those the primary flow did not), the primary
  record, and the conflicts. A value a flow only *sets* (its constant, for what the source
  lacks) is a default, not an observation: any source's observed value wins over it, and it
  conflicts with nothing.
"""

from __future__ import annotations

from wiring_pipeline.domain.contract.states import (
    INVENTORY_PHASE,
    RETIRED_PHASE,
    is_latest_import,
)
from wiring_pipeline.domain.core.tenancy import tenant_filter
from wiring_pipeline.domain.inventory.matching import (
    IDENTIFIERS,
    NEW_ASSET,
    comparable_value,
)
from wiring_pipeline.domain.inventory.writes import (
    CANDIDATES,
    CHANGES,
    DERIVE,
    FIELDS,
    GONE,
    HISTORY_NEW,
    HISTORY_OLD,
    HISTORY_ROWS,
    INCOMING,
    NEW_ROW,
    OLD_ROW,
    cast_field,
)

_CURRENT = "'current'"
_IDENTIFIER_NAMES = ", ".join(i.column for i in IDENTIFIERS)

#: A full export may retire up to this share of its flow's current source rows, or fewer
#: than RETIREMENT_GUARD_MIN of them, unconfirmed; beyond both it is more likely one sheet
#: of several or a filtered view than a decommissioning, and a person decides (DESIGN 3f).
RETIREMENT_GUARD_SHARE = 0.20
RETIREMENT_GUARD_MIN = 10


def retirement_held(would_retire: int, current: int) -> bool:
    """Whether retiring `would_retire` of `current` source rows waits for a person."""
    return would_retire >= RETIREMENT_GUARD_MIN and would_retire > RETIREMENT_GUARD_SHARE * current


#: The flow's current source rows whose key the import (`:data_import_id`) does not have,
#: noted once (the guard counts them, the retirement retires them): every archived record
#: of the import counts, rejected ones included (a server whose row this week is bad is
#: still there; it keeps last week's values, it is not retired). The import's keys are
#: computed once: probed per source row, with statistics that predate the tenant (a first
#: import below ANALYZE_AFTER_ROWS refreshes none), the join of records and archive ran as
#: nested loops inside the anti-join (a minute for 1 000 records).
GONE_SQL = f"""
WITH import_keys AS MATERIALIZED (
    SELECT DISTINCT c.identity_key FROM migration.raw_import_records r
    JOIN migration.cleansed_record_archive c
      ON {tenant_filter("c")} AND c.raw_import_record_id = r.id
    WHERE {tenant_filter("r")} AND r.data_import_id = :data_import_id
)
INSERT INTO {GONE} (id, asset_id)
SELECT s.id, s.asset_id FROM migration.asset_sources s
WHERE {tenant_filter("s")} AND s.discovery_flow_id = :flow_row_id
  AND s.current_phase = {_CURRENT}
  AND NOT EXISTS (SELECT 1 FROM import_keys k WHERE k.identity_key = s.identity_key)
"""

#: How many current source rows the flow has: what the gone ones are a share of.
CURRENT_SOURCES_SQL = f"""
SELECT count(*) FROM migration.asset_sources s
WHERE {tenant_filter("s")} AND s.discovery_flow_id = :flow_row_id
  AND s.current_phase = {_CURRENT}
"""

#: The import holds its retirements (`run --confirm-retire` or `import --partial` decides);
#: once applied, it holds none.
HOLD_RETIREMENT_SQL = f"""
UPDATE migration.data_imports d SET retirement_held = :held
WHERE {tenant_filter("d")} AND d.id = :data_import_id
"""

#: Each flow's latest import whose held retirements a person confirmed, not yet applied.
CONFIRMED_RETIREMENTS_SQL = f"""
SELECT d.id, d.discovery_flow_id FROM migration.data_imports d
WHERE {tenant_filter("d")} AND d.retirement_held > 0 AND d.retirement_confirmed_at IS NOT NULL
  AND NOT d.is_partial AND {is_latest_import("d")}
ORDER BY d.created_at, d.id
"""

#: Retires the noted source rows (`GONE_SQL`), and the assets they leave with no current
#: source.
RETIRE_SQL = f"""
WITH gone AS MATERIALIZED (SELECT id, asset_id FROM {GONE}),
lone AS MATERIALIZED (
    SELECT a.id, a.raw_import_records_id, a.current_phase, a.name, a.asset_type, a.environment
    FROM gone g JOIN migration.assets a ON {tenant_filter("a")} AND a.id = g.asset_id
    WHERE a.current_phase IS DISTINCT FROM '{RETIRED_PHASE}'
      AND NOT EXISTS (
          SELECT 1 FROM migration.asset_sources o
          WHERE {tenant_filter("o")} AND o.asset_id = a.id
            AND o.discovery_flow_id <> :flow_row_id AND o.current_phase = {_CURRENT})
),
retired_sources AS (
    UPDATE migration.asset_sources s SET current_phase = 'retired', updated_at = now()
    FROM gone g WHERE {tenant_filter("s")} AND s.id = g.id
),
shared AS (
    INSERT INTO {DERIVE} (asset_id)
    SELECT g.asset_id FROM gone g WHERE NOT EXISTS (SELECT 1 FROM lone l WHERE l.id = g.asset_id)
),
retired AS (
    UPDATE migration.assets a SET current_phase = '{RETIRED_PHASE}', updated_at = now()
    FROM lone l WHERE {tenant_filter("a")} AND a.id = l.id
),
history AS (
    INSERT INTO migration.asset_history
        (client_account_id, engagement_id, asset_id, data_import_id, change, field_name,
         old_value, new_value)
    SELECT :client_account_id, :engagement_id, l.id, :data_import_id, '{RETIRED_PHASE}',
           'current_phase', to_jsonb(l.current_phase), to_jsonb('{RETIRED_PHASE}'::text)
    FROM lone l
)
INSERT INTO {CHANGES}
SELECT l.id, NULL, l.raw_import_records_id, :data_import_id, '{RETIRED_PHASE}', l.name,
       l.asset_type, l.environment, NULL
FROM lone l
"""

#: Is there anything to reconcile with: another flow's current source row in the partition.
OTHER_SOURCES_SQL = f"""
SELECT EXISTS (
    SELECT 1 FROM migration.asset_sources s
    WHERE {tenant_filter("s")} AND s.discovery_flow_id <> :flow_row_id
      AND s.current_phase = {_CURRENT})
  AND EXISTS (SELECT 1 FROM {INCOMING} WHERE source_id IS NULL)
"""


def _unmatched_column(identifier) -> str:
    """An incoming record's identifier; a `unique_only` one only where no other record has it."""
    column = f"i.{identifier.column}"
    if not identifier.unique_only:
        return column
    return (
        f"CASE WHEN count(*) OVER (PARTITION BY {column}) = 1 THEN {column} END"
        f" AS {identifier.column}"
    )


def _pairs_branch(identifier) -> str:
    """The (record, asset) pairs that agree on one identifier."""
    unique = ""
    if identifier.unique_only:
        unique = (
            f" AND NOT EXISTS (SELECT 1 FROM migration.asset_sources x "
            f"WHERE {tenant_filter('x')} AND x.{identifier.column} = s.{identifier.column} "
            f"AND x.current_phase = {_CURRENT} AND x.discovery_flow_id <> :flow_row_id "
            f"AND x.asset_id <> s.asset_id)"
        )
    return (
        f"SELECT u.rid, s.asset_id, '{identifier.name}' AS rule FROM unmatched u "
        f"JOIN migration.asset_sources s ON {tenant_filter('s')} "
        f"AND s.{identifier.column} = u.{identifier.column} AND s.current_phase = {_CURRENT} "
        f"AND s.discovery_flow_id <> :flow_row_id{unique}"
    )


def _first(kind: str, conditions: list[tuple[str, str]]) -> str:
    """SQL CASE naming the first identifier whose condition holds (NULL: none)."""
    whens = " ".join(f"WHEN {condition} THEN '{name}'" for name, condition in conditions)
    return f"CASE {whens} END AS {kind}"


def _strength(column: str) -> str:
    """SQL: the rank of the identifier named by `column` (0: the strongest)."""
    ranks = " ".join(f"WHEN '{i.name}' THEN {n}" for n, i in enumerate(IDENTIFIERS))
    return f"(CASE {column} {ranks} END)"


_STRENGTH = _strength("rule")
_VETOING = [i for i in IDENTIFIERS if i.vetoes]

RECONCILE_SQL = f"""
WITH unmatched AS MATERIALIZED (
    SELECT i.raw_import_record_id AS rid, {", ".join(_unmatched_column(i) for i in IDENTIFIERS)}
    FROM {INCOMING} i WHERE i.source_id IS NULL
),
pairs AS MATERIALIZED (
    {" UNION ALL ".join(_pairs_branch(i) for i in IDENTIFIERS)}
),
scored AS (
    SELECT p.rid, p.asset_id,
           {", ".join(f"bool_or(p.rule = '{i.name}') AS agree_{i.name}" for i in IDENTIFIERS)}
    FROM pairs p GROUP BY p.rid, p.asset_id
),
carried AS MATERIALIZED (
    SELECT s.asset_id, bool_or(s.discovery_flow_id = :flow_row_id) AS has_flow,
           {
    ", ".join(
        f"bool_or(s.{i.column} IS NOT NULL) FILTER (WHERE s.current_phase = {_CURRENT})"
        f" AS has_{i.name}"
        for i in _VETOING
    )
}
    FROM migration.asset_sources s
    WHERE {tenant_filter("s")} AND s.asset_id IN (SELECT asset_id FROM scored)
    GROUP BY s.asset_id
),
judged AS MATERIALIZED (
    SELECT sc.rid, sc.asset_id,
           {" + ".join(f"sc.agree_{i.name}::int" for i in IDENTIFIERS)} AS agreements,
           {_first("rule", [(i.name, f"sc.agree_{i.name}") for i in IDENTIFIERS])},
           {
    _first(
        "veto",
        [
            (i.name, f"u.{i.column} IS NOT NULL AND c.has_{i.name} AND NOT sc.agree_{i.name}")
            for i in _VETOING
        ],
    )
}
    FROM scored sc
    JOIN unmatched u ON u.rid = sc.rid
    JOIN carried c ON c.asset_id = sc.asset_id
    WHERE NOT c.has_flow
),
valid AS MATERIALIZED (
    SELECT rid, asset_id, rule,
           rank() OVER (PARTITION BY rid ORDER BY agreements DESC, {_STRENGTH}) AS place
    FROM judged WHERE veto IS NULL
),
chosen AS (
    SELECT rid, (array_agg(asset_id))[1] AS asset_id, (array_agg(rule))[1] AS rule
    FROM valid WHERE place = 1 GROUP BY rid HAVING count(*) = 1
),
joined AS MATERIALIZED (
    SELECT c.* FROM chosen c
    WHERE NOT EXISTS (SELECT 1 FROM chosen o WHERE o.asset_id = c.asset_id AND o.rid <> c.rid)
),
marked AS (
    UPDATE {INCOMING} i SET asset_id = j.asset_id, matched_on = j.rule
    FROM joined j WHERE i.raw_import_record_id = j.rid
)
INSERT INTO {CANDIDATES} (raw_import_record_id, candidate_asset_id, rule, reason)
SELECT v.rid, v.asset_id, v.rule,
       CASE WHEN count(*) OVER (PARTITION BY v.rid) > 1
            THEN 'several machines agree on ' || v.rule
            ELSE 'another record of the import agrees with it on ' || v.rule END
FROM valid v
WHERE v.place = 1 AND NOT EXISTS (SELECT 1 FROM joined j WHERE j.rid = v.rid)
UNION ALL
SELECT g.rid, g.asset_id, g.rule, 'agrees on ' || g.rule || ' but its ' || g.veto || ' differs'
FROM judged g
WHERE g.veto IS NOT NULL AND {_strength("g.rule")} < {_strength("g.veto")}
  AND NOT EXISTS (SELECT 1 FROM joined j WHERE j.rid = g.rid)
"""

#: The one arbiter is the asset's row of the flow: a concurrent run that skipped the
#: partition lock and joined the same record first makes this one skip it (the asset a run
#: creates is its own, `CREATE_SQL` skips the record another run created). A flow's key
#: cannot repeat here (its records with a source row are matched to it, a repeated key in an
#: import is rejected), so its unique index only stands guard, and is not probed before
#: each row: as an arbiter of text keys it cost a quarter of the statement (200 000 rows,
#: 17.9 s against 13.6 s).
SOURCES_SQL = f"""
WITH refreshed AS (
    UPDATE migration.asset_sources s
    SET raw_import_record_id = i.raw_import_record_id, current_phase = {_CURRENT},
        updated_at = now(), {", ".join(f"{i.column} = i.{i.column}" for i in IDENTIFIERS)}
    FROM {INCOMING} i
    WHERE {tenant_filter("s")} AND s.id = i.source_id AND CAST(:is_latest AS boolean)
)
INSERT INTO migration.asset_sources
    (client_account_id, engagement_id, asset_id, discovery_flow_id, raw_import_record_id,
     identity_key, matched_on, {_IDENTIFIER_NAMES})
SELECT :client_account_id, :engagement_id, coalesce(i.asset_id, n.asset_id), :flow_row_id,
       i.raw_import_record_id, i.identity_key, coalesce(i.matched_on, '{NEW_ASSET}'),
       {", ".join(f"i.{i.column}" for i in IDENTIFIERS)}
FROM {INCOMING} i
LEFT JOIN {CHANGES} n ON n.raw_import_record_id = i.raw_import_record_id AND n.change = 'created'
WHERE i.source_id IS NULL AND coalesce(i.asset_id, n.asset_id) IS NOT NULL
ON CONFLICT (client_account_id, engagement_id, asset_id, discovery_flow_id) DO NOTHING
"""

#: The undecided pairs of the import, each naming the asset its record created.
CANDIDATES_SQL = f"""
INSERT INTO migration.match_candidates
    (client_account_id, engagement_id, asset_id, candidate_asset_id, raw_import_record_id,
     rule, reason)
SELECT :client_account_id, :engagement_id, n.asset_id, c.candidate_asset_id,
       c.raw_import_record_id, c.rule, c.reason
FROM {CANDIDATES} c
JOIN {CHANGES} n ON n.raw_import_record_id = c.raw_import_record_id AND n.change = 'created'
ON CONFLICT DO NOTHING
"""

#: The incoming records whose asset several sources now describe (joined, or updating one).
_DERIVED_RECORDS = (
    "i.asset_id IS NOT NULL AND ((i.source_id IS NULL AND i.matched_on IS NOT NULL)"
    " OR (i.multi AND CAST(:is_latest AS boolean)))"
)
_WHOLE = "'{}'"
_OLD_NEW = ", ".join(
    f"a.{f} AS old_{f}, {cast_field(f, f'd.value_{f} #>> {_WHOLE}')} AS new_{f}" for f in FIELDS
)


def _flow_field(field: str) -> str:
    """SQL, per flow: the field's precedence in it (1 unless the flow says), whether the
    flow sets a constant for it, and that constant as a conflict compares it."""
    name = f"'{field}'"
    return (
        f"coalesce((f.field_precedence ->> {name})::int, 1) AS r_{field},"
        f" f.field_constants ? {name} AS has_constant_{field},"
        f" {comparable_value(field, f'f.field_constants -> {name}')} AS constant_{field}"
    )


def _source_field(field: str) -> str:
    """SQL, per current source row: the field's value (NULL for none) and its rank, one
    integer (NULL for no value), lower first: how it ranks as an observation (0: observed,
    1: only its flow's constant, a default, 2: a constant the value cannot be compared with,
    ranked after defaults) times 8, plus its precedence in the flow (0 to 2, as `flow_spec`
    allows). One integer instead of an array per value: the ranking's `min` of 29 arrays
    per source cost more than reading them (200 000 records of a second source: the
    derivation 18.4 s to 16.8 s with the flows read once)."""
    value = f"NULLIF(c.cleansed_values -> '{field}', 'null'::jsonb)"
    default = (
        f"CASE WHEN NOT f.has_constant_{field} THEN 0"
        f" ELSE coalesce((f.constant_{field} = {comparable_value(field, value)})::int, 2) END"
    )
    return (
        f"{value} AS v_{field},"
        f" CASE WHEN {value} IS NOT NULL THEN ({default}) * 8 + f.r_{field} END AS rank_{field}"
    )


#: A source's place among its asset's sources is below this: its rank times it, plus its
#: place, orders the sources by rank then place in one integer.
_POSITIONS = 2**32


def _winner(field: str) -> str:
    """SQL, per asset: the field's value of its winning source (observed before default,
    then field precedence, then the sources' order) and that source's flow; the observed
    values where they conflict (differ as a conflict compares them), and their flows where
    they differ at all. Equal jsonb values are equal to a conflict too, so only values that
    differ are normalised, and two of them (the common case) are compared directly rather
    than counted; the observed values are aggregated once (PostgreSQL shares an aggregate
    written alike)."""
    winner = f"(min(rank_{field}::bigint * {_POSITIONS} + pos) % {_POSITIONS})::int"
    observed = f"FILTER (WHERE rank_{field} < 8)"
    values = f"array_agg(v_{field} ORDER BY pos) {observed}"
    differ = f"NOT (({values})[1] = ALL ({values}))"
    distinct = (
        f"(SELECT count(DISTINCT {comparable_value(field, 'u.value')})"
        f" FROM unnest({values}) AS u(value)) > 1"
    )
    pair = (
        f"{comparable_value(field, f'({values})[1]')}"
        f" <> {comparable_value(field, f'({values})[2]')}"
    )
    conflict = f"CASE WHEN cardinality({values}) = 2 THEN {pair} ELSE {distinct} END"
    return (
        f"(array_agg(v_{field} ORDER BY pos))[{winner}] AS value_{field},"
        f" (array_agg(flow_id ORDER BY pos))[{winner}] AS flow_{field},"
        f" CASE WHEN {differ} THEN CASE WHEN {conflict} THEN {values} END END"
        f" AS conflicting_{field},"
        f" CASE WHEN {differ} THEN array_agg(flow_id ORDER BY pos) {observed} END"
        f" AS observed_flows_{field}"
    )


_FLOW_FIELDS = ",\n           ".join(_flow_field(f) for f in FIELDS)
_SOURCE_FIELDS = ",\n           ".join(_source_field(f) for f in FIELDS)
_WINNERS = ",\n           ".join(_winner(f) for f in FIELDS)
#: The flow of each field another flow than the primary one gave (`discovery_flow_id` gave
#: every field not named; `{}`: it gave all, `NULL`: the asset has one source, as
#: `UPDATE_SQL` leaves it). Naming every field's flow made the provenance 1 044 of an asset
#: row's 1 749 bytes (200 000 records of two sources), which every derivation rewrites.
_PROVENANCE = (
    "jsonb_strip_nulls(jsonb_build_object("
    + ", ".join(f"'{f}', NULLIF(w.flow_{f}, w.primary_flow_id)" for f in FIELDS)
    + "))"
)
#: Per asset, its fields whose observed values conflict, each with the winning value and
#: flow and every observed value with its flow.
_CONFLICTING_FIELDS = ", ".join(
    f"('{f}', w.conflicting_{f}, w.observed_flows_{f}, w.value_{f}, w.flow_{f})" for f in FIELDS
)
#: An asset has a conflicting field: implied by each row's own test, it drops the assets
#: with none before they are made a row per field.
_ANY_CONFLICT = " OR ".join(f"w.conflicting_{f} IS NOT NULL" for f in FIELDS)

DERIVE_SQL = f"""
WITH targets AS MATERIALIZED (
    SELECT DISTINCT asset_id FROM (
        SELECT i.asset_id FROM {INCOMING} i WHERE {_DERIVED_RECORDS}
        UNION ALL SELECT asset_id FROM {DERIVE}) AS t
),
-- What each flow of the partition says of each field, read once per flow, not per source.
flows AS MATERIALIZED (
    SELECT f.id, f.precedence,
           {_FLOW_FIELDS}
    FROM migration.discovery_flows f WHERE {tenant_filter("f")}
),
-- Each current source of each target with, for every inventory field, its value and its
-- rank: the ranking is then one aggregate per asset over its few sources, in their order
-- (flow precedence, then age), with no row per value.
sources AS MATERIALIZED (
    SELECT s.asset_id, s.discovery_flow_id AS flow_id, s.raw_import_record_id, s.identity_key,
           row_number() OVER (
               PARTITION BY s.asset_id ORDER BY f.precedence, s.created_at, s.id) AS pos,
           {_SOURCE_FIELDS}
    FROM targets t
    JOIN migration.asset_sources s
      ON {tenant_filter("s")} AND s.asset_id = t.asset_id AND s.current_phase = {_CURRENT}
    JOIN flows f ON f.id = s.discovery_flow_id
    JOIN migration.cleansed_record_archive c
      ON {tenant_filter("c")} AND c.raw_import_record_id = s.raw_import_record_id
),
winners AS MATERIALIZED (
    SELECT asset_id, (array_agg(flow_id) FILTER (WHERE pos = 1))[1] AS primary_flow_id,
           (array_agg(raw_import_record_id) FILTER (WHERE pos = 1))[1] AS primary_record_id,
           (array_agg(identity_key) FILTER (WHERE pos = 1))[1] AS primary_identity_key,
           {_WINNERS}
    FROM sources GROUP BY asset_id
),
derived AS (
    SELECT w.*, {_PROVENANCE} AS provenance FROM winners w
),
matched AS MATERIALIZED (
    SELECT asset_id, old_phase, was_retired, provenance, flow_id, record_id, identity_key,
           {NEW_ROW}, ({OLD_ROW}) IS DISTINCT FROM ({NEW_ROW}) AS changed
    FROM (
        SELECT a.id AS asset_id, a.current_phase AS old_phase,
               a.current_phase = '{RETIRED_PHASE}' AS was_retired, d.provenance,
               d.primary_flow_id AS flow_id, d.primary_record_id AS record_id,
               d.primary_identity_key AS identity_key, {_OLD_NEW}
        FROM derived d
        JOIN migration.assets a ON {tenant_filter("a")} AND a.id = d.asset_id
        OFFSET 0
    ) AS compared
),
-- The record each derived asset's history names: one join, not a probe of the (unindexed)
-- incoming table per changed asset.
first_incoming AS MATERIALIZED (
    SELECT DISTINCT ON (i.asset_id) i.asset_id, i.raw_import_record_id
    FROM {INCOMING} i WHERE {_DERIVED_RECORDS}
    ORDER BY i.asset_id, i.raw_import_record_id
),
history AS (
    INSERT INTO migration.asset_history
        (client_account_id, engagement_id, asset_id, data_import_id, raw_import_record_id,
         change, field_name, old_value, new_value)
    SELECT :client_account_id, :engagement_id, m.asset_id, :data_import_id,
           fi.raw_import_record_id,
           CASE WHEN m.was_retired THEN 'revived' ELSE 'updated' END, v.field,
           {HISTORY_OLD}, {HISTORY_NEW}
    FROM matched m
    LEFT JOIN first_incoming fi ON fi.asset_id = m.asset_id
    JOIN migration.assets a ON {tenant_filter("a")} AND a.id = m.asset_id
    {HISTORY_ROWS}
    WHERE (m.changed OR m.was_retired) AND v.differs
),
updated AS (
    UPDATE migration.assets a
    SET {", ".join(f"{f} = m.new_{f}" for f in FIELDS)},
        raw_import_records_id = m.record_id, discovery_flow_id = m.flow_id,
        identity_key = m.identity_key, field_sources = m.provenance,
        current_phase = '{INVENTORY_PHASE}', updated_at = now()
    FROM matched m
    WHERE {tenant_filter("a")} AND a.id = m.asset_id
),
conflicts AS MATERIALIZED (
    SELECT w.asset_id, x.field, x.chosen_flow_id, x.chosen_value,
           (SELECT jsonb_object_agg(u.flow_id::text, u.value)
            FROM unnest(x.observed_flows, x.observed) AS u(flow_id, value)) AS source_values
    FROM winners w
    CROSS JOIN LATERAL (VALUES {_CONFLICTING_FIELDS})
        AS x(field, observed, observed_flows, chosen_value, chosen_flow_id)
    WHERE ({_ANY_CONFLICT}) AND x.observed IS NOT NULL
),
kept AS (
    INSERT INTO migration.asset_conflicts AS k
        (client_account_id, engagement_id, asset_id, field_name, chosen_flow_id, chosen_value,
         source_values)
    SELECT :client_account_id, :engagement_id, asset_id, field, chosen_flow_id, chosen_value,
           source_values
    FROM conflicts
    ON CONFLICT (client_account_id, engagement_id, asset_id, field_name) DO UPDATE
    SET chosen_flow_id = EXCLUDED.chosen_flow_id, chosen_value = EXCLUDED.chosen_value,
        source_values = EXCLUDED.source_values,
        detected_at = CASE WHEN k.source_values = EXCLUDED.source_values
                           THEN k.detected_at ELSE now() END
),
cleared AS (
    DELETE FROM migration.asset_conflicts x USING targets t
    WHERE {tenant_filter("x")} AND x.asset_id = t.asset_id
      AND NOT EXISTS (SELECT 1 FROM conflicts c
                      WHERE c.asset_id = x.asset_id AND c.field = x.field_name)
)
INSERT INTO {CHANGES}
SELECT i.asset_id, i.raw_import_record_id, i.previous_record_id, :data_import_id,
       CASE WHEN i.source_id IS NULL THEN 'matched'
            WHEN m.was_retired THEN 'revived'
            WHEN m.changed THEN 'updated'
            ELSE 'unchanged' END,
       m.new_name, m.new_asset_type, m.new_environment, i.summary
FROM {INCOMING} i JOIN matched m ON m.asset_id = i.asset_id
WHERE {_DERIVED_RECORDS}
"""
