"""The set-based statements of the inventory step, one import at a time (DESIGN 3a, 3e).

An import's open cleansed records are first *matched* by identity key against the source
rows of their flow (one INSERT … SELECT into a transaction-local table, before any asset is
written, so no statement probes the rows it is itself inserting); the records no source row
knows are then reconciled with the other sources' machines (`reconcile.py`). Then, each as
one statement:

* `UPDATE_SQL` updates in place (same id) the assets this flow alone describes, records
  every changed field in `asset_history`, revives retired ones, and makes the new record
  the asset's current one; an asset several sources describe is re-derived from all of them
  instead (`reconcile.DERIVE_SQL`);
* `CREATE_SQL` inserts an asset per record that matched nothing;
* `reconcile.RETIRE_SQL` (full exports only) retires the flow's source rows whose key the
  import does not have, and the assets left with no current source.

Each notes what it did in `inventory_changes`, with the matching noting the records the
cleansing rejected, from which `LINK_SQL` points the new records at their assets, or marks
them rejected, each with its minimal cleansed summary (DESIGN 1: the raw record's one write
after its load), and `SUPERSEDE_SQL` marks the records they replaced. All of it runs in
the caller's one transaction.
"""

from __future__ import annotations

from wiring_pipeline.domain.contract.fields import INVENTORY_FIELDS
from wiring_pipeline.domain.contract.states import (
    DISCOVERY_METHOD,
    DISCOVERY_SOURCE,
    INVENTORY_PHASE,
    OPEN_RECORD_SQL,
    REJECTED_PREFIX,
    RETIRED_PHASE,
    UNCLEANSED_SQL,
    is_latest_import,
)
from wiring_pipeline.domain.core.tenancy import tenant_filter
from wiring_pipeline.domain.inventory.matching import IDENTIFIERS

#: What happened to an asset in a run, in report order; `matched`: another source's machine
#: that this source's record joined (DESIGN 3e).
CHANGE_KINDS = ("created", "matched", "updated", "unchanged", "retired", "revived")
#: A record of an import older than the flow's latest whose key has an asset: it is
#: linked as history at once (superseded by the asset's current record), never applied.
HISTORY = "history"
#: The changes whose record is linked to its asset (all but retirement).
LINKED_KINDS = ("created", "matched", "updated", "unchanged", "revived", HISTORY)
#: A record the cleansing rejected: processed with its reason, and no asset (its change
#: row's `name` is the reason).
REJECTED = "rejected"

INCOMING = "pg_temp.inventory_incoming"
CHANGES = "pg_temp.inventory_changes"
#: Assets several current sources describe that this import touched: re-derived.
DERIVE = "pg_temp.inventory_derive"
#: Possible matches a record's reconciliation would not decide, kept for review.
CANDIDATES = "pg_temp.inventory_candidates"
#: The source rows a full export no longer has: counted for its guard, then retired.
GONE = "pg_temp.inventory_gone"
_IDENTIFIER_COLUMNS = ", ".join(f"{i.column} text" for i in IDENTIFIERS)
#: The transaction-local tables of one inventory build, emptied as it starts: a second
#: build in the same transaction (a caller's retry, a test) counts and links only its own
#: changes, never the first one's again.
START_BUILD = (
    f"CREATE TEMP TABLE IF NOT EXISTS {INCOMING.removeprefix('pg_temp.')}"
    " (raw_import_record_id uuid, identity_key text, asset_id uuid, source_id uuid,"
    " previous_record_id uuid, multi boolean, matched_on text, summary jsonb,"
    f" {_IDENTIFIER_COLUMNS}) ON COMMIT DROP",
    f"CREATE TEMP TABLE IF NOT EXISTS {DERIVE.removeprefix('pg_temp.')}"
    " (asset_id uuid) ON COMMIT DROP",
    f"CREATE TEMP TABLE IF NOT EXISTS {CANDIDATES.removeprefix('pg_temp.')}"
    " (raw_import_record_id uuid, candidate_asset_id uuid, rule text, reason text) ON COMMIT DROP",
    f"CREATE TEMP TABLE IF NOT EXISTS {GONE.removeprefix('pg_temp.')}"
    " (id uuid, asset_id uuid) ON COMMIT DROP",
    f"CREATE TEMP TABLE IF NOT EXISTS {CHANGES.removeprefix('pg_temp.')} (asset_id uuid,"
    " raw_import_record_id uuid, previous_record_id uuid, data_import_id uuid, change text,"
    " name text, asset_type text, environment text, summary jsonb) ON COMMIT DROP",
    f"TRUNCATE {INCOMING}, {CHANGES}, {DERIVE}, {CANDIDATES}, {GONE}",
)

_CAST = {"integer": "integer", "number": "numeric"}
FIELDS = list(INVENTORY_FIELDS)


def cast_field(name: str, value: str) -> str:
    """SQL: the text expression `value` as the inventory field `name`'s column type."""
    kind = INVENTORY_FIELDS[name]
    return f"({value})::{_CAST[kind]}" if kind in _CAST else value


def typed(name: str, alias: str = "c") -> str:
    """The inventory field's value from an archived record's cleansed values."""
    return cast_field(name, f"{alias}.cleansed_values ->> '{name}'")


_CUSTOM_ATTRIBUTES = f"""jsonb_build_object(
               'unmapped_columns', r.raw_data - CAST(:mapped_sources AS text[]),
               'field_mappings_version', CAST(:version_id AS text),
               'discovered_in_phase', '{INVENTORY_PHASE}')"""

#: The record's summary as its raw record keeps it once processed (DESIGN 1), from its
#: archive row `c`.
SUMMARY_SQL = """jsonb_build_object(
           'status', CASE WHEN c.verdict IS NULL THEN 'cleansed' ELSE 'rejected' END,
           'field_count', c.field_count, 'has_critical_fields', c.has_critical_fields,
           'cleansed_at', c.cleansed_at)"""

#: The import's open records that its flow's current spec cleansed. The rejected ones are
#: noted for the link; each cleansed one is matched with its flow's source row of its key
#: (and so its asset), if any, with whether other sources describe that asset too, and its
#: identifiers. The archive is read once: the judged rows keep only the narrow columns.
MATCH_SQL = f"""
WITH judged AS MATERIALIZED (
    SELECT r.id, c.identity_key, c.verdict, {SUMMARY_SQL} AS summary,
           {", ".join(f"{i.normalised('c.cleansed_values')} AS {i.column}" for i in IDENTIFIERS)}
    FROM migration.raw_import_records r
    JOIN migration.cleansed_record_archive c
      ON {tenant_filter("c")} AND c.raw_import_record_id = r.id
    WHERE {OPEN_RECORD_SQL} AND r.data_import_id = :data_import_id
      AND c.field_mappings_version_id IS NOT DISTINCT FROM CAST(:version_id AS uuid)
),
rejected AS (
    INSERT INTO {CHANGES} (raw_import_record_id, data_import_id, change, name, summary)
    SELECT j.id, :data_import_id, '{REJECTED}', j.verdict, j.summary
    FROM judged j WHERE j.verdict IS NOT NULL
)
INSERT INTO {INCOMING}
    (raw_import_record_id, identity_key, asset_id, source_id, previous_record_id, multi,
     summary, {", ".join(i.column for i in IDENTIFIERS)})
SELECT j.id, j.identity_key, s.asset_id, s.id, s.raw_import_record_id,
       s.id IS NOT NULL AND EXISTS (
           SELECT 1 FROM migration.asset_sources o
           WHERE {tenant_filter("o")} AND o.asset_id = s.asset_id
             AND o.discovery_flow_id <> :flow_row_id AND o.current_phase = 'current'),
       j.summary, {", ".join(f"j.{i.column}" for i in IDENTIFIERS)}
FROM judged j
LEFT JOIN migration.asset_sources s
  ON {tenant_filter("s")} AND s.discovery_flow_id = :flow_row_id
  AND s.identity_key = j.identity_key
WHERE j.verdict IS NULL
"""

_OLD_NEW = ", ".join(f"a.{f} AS old_{f}, {typed(f)} AS new_{f}" for f in FIELDS)
_HISTORY_PAIRS = [(f, f"a.{f}", f"m.new_{f}") for f in FIELDS] + [
    ("current_phase", "m.old_phase", f"'{INVENTORY_PHASE}'::text")
]
#: A changed asset's history, one row per field whose value differs (`v.field`), from the
#: asset as it was (`a`) and its new values (`m.new_*`): fields are compared as their typed
#: columns, and only a changed one is made jsonb. Building every field's pair of jsonb values
#: to compare them was two thirds of the history's cost (96 000 assets: 2.2 s of 3.5 s).
HISTORY_ROWS = (
    "CROSS JOIN LATERAL (VALUES "
    + ", ".join(f"('{name}', {old} IS DISTINCT FROM {new})" for name, old, new in _HISTORY_PAIRS)
    + ") AS v(field, differs)"
)
HISTORY_OLD, HISTORY_NEW = (
    "CASE v.field "
    + " ".join(f"WHEN '{pair[0]}' THEN to_jsonb({pair[side]})" for pair in _HISTORY_PAIRS)
    + " END"
    for side in (1, 2)
)
#: The asset's fields and the record's, as rows: compared once per record, so only the
#: records that change something pay for the per-field history.
OLD_ROW = ", ".join(f"old_{f}" for f in FIELDS)
NEW_ROW = ", ".join(f"new_{f}" for f in FIELDS)

# The matched rows keep the new values and the verdict, not the old values (read again,
# from the statement's snapshot, for the few changed assets whose history is written): a
# materialised row half as wide. OFFSET 0 computes each new value once, not once per use.
UPDATE_SQL = f"""
WITH matched AS MATERIALIZED (
    SELECT asset_id, record_id, previous_record_id, identity_key, old_phase, was_retired,
           custom_attributes, summary,
           {NEW_ROW}, ({OLD_ROW}) IS DISTINCT FROM ({NEW_ROW}) AS changed
    FROM (
        SELECT a.id AS asset_id, i.raw_import_record_id AS record_id,
               i.previous_record_id, i.summary, a.current_phase AS old_phase,
               a.current_phase = '{RETIRED_PHASE}' AS was_retired,
               i.identity_key, {_CUSTOM_ATTRIBUTES} AS custom_attributes, {_OLD_NEW}
        FROM {INCOMING} i
        JOIN migration.assets a ON {tenant_filter("a")} AND a.id = i.asset_id
        JOIN migration.cleansed_record_archive c
          ON {tenant_filter("c")} AND c.raw_import_record_id = i.raw_import_record_id
        JOIN migration.raw_import_records r
          ON {tenant_filter("r")} AND r.id = i.raw_import_record_id
        WHERE i.source_id IS NOT NULL AND NOT i.multi AND CAST(:is_latest AS boolean)
        OFFSET 0
    ) AS compared
),
history AS (
    INSERT INTO migration.asset_history
        (client_account_id, engagement_id, asset_id, data_import_id, raw_import_record_id,
         change, field_name, old_value, new_value)
    SELECT :client_account_id, :engagement_id, m.asset_id, :data_import_id, m.record_id,
           CASE WHEN m.was_retired THEN 'revived' ELSE 'updated' END, v.field,
           {HISTORY_OLD}, {HISTORY_NEW}
    FROM matched m
    JOIN migration.assets a ON {tenant_filter("a")} AND a.id = m.asset_id
    {HISTORY_ROWS}
    WHERE (m.changed OR m.was_retired) AND v.differs
),
updated AS (
    UPDATE migration.assets a
    SET {", ".join(f"{f} = m.new_{f}" for f in FIELDS)},
        raw_import_records_id = m.record_id, current_phase = '{INVENTORY_PHASE}',
        discovery_flow_id = :flow_row_id, identity_key = m.identity_key, field_sources = NULL,
        field_mappings_used = :mappings_hash,
        custom_attributes = m.custom_attributes,
        updated_at = now()
    FROM matched m
    WHERE {tenant_filter("a")} AND a.id = m.asset_id
)
INSERT INTO {CHANGES}
SELECT m.asset_id, m.record_id, m.previous_record_id, :data_import_id,
       CASE WHEN m.was_retired THEN 'revived'
            WHEN m.changed THEN 'updated'
            ELSE 'unchanged' END,
       m.new_name, m.new_asset_type, m.new_environment, m.summary
FROM matched m
"""

#: Matched records of an import older than the flow's latest: history, not an update.
HISTORY_SQL = f"""
INSERT INTO {CHANGES}
SELECT i.asset_id, i.raw_import_record_id, i.previous_record_id, :data_import_id, '{HISTORY}',
       a.name, a.asset_type, a.environment, i.summary
FROM {INCOMING} i
JOIN migration.assets a ON {tenant_filter("a")} AND a.id = i.asset_id
WHERE i.source_id IS NOT NULL AND NOT CAST(:is_latest AS boolean)
"""

_ASSET_FIELDS = ", ".join(FIELDS)
_ASSET_VALUES = ", ".join(typed(f) for f in FIELDS)

# ON CONFLICT without a target: a concurrent transaction that skipped the partition lock
# and inserted the same record (or key) first makes this one skip it, never fail.
CREATE_SQL = f"""
WITH created AS (
    INSERT INTO migration.assets
        (client_account_id, engagement_id, {_ASSET_FIELDS}, identity_key,
         discovery_flow_id, master_flow_id, raw_import_records_id, field_mappings_used,
         source_phase, current_phase, discovery_method, discovery_source,
         discovery_timestamp, custom_attributes)
    SELECT :client_account_id, :engagement_id, {_ASSET_VALUES}, i.identity_key,
           :flow_row_id, :master_flow_id, r.id, :mappings_hash,
           '{INVENTORY_PHASE}', '{INVENTORY_PHASE}', '{DISCOVERY_METHOD}', '{DISCOVERY_SOURCE}',
           now(), {_CUSTOM_ATTRIBUTES}
    FROM {INCOMING} i
    JOIN migration.raw_import_records r ON {tenant_filter("r")} AND r.id = i.raw_import_record_id
    JOIN migration.cleansed_record_archive c
      ON {tenant_filter("c")} AND c.raw_import_record_id = i.raw_import_record_id
    WHERE i.asset_id IS NULL
    ON CONFLICT DO NOTHING
    RETURNING id, raw_import_records_id, name, asset_type, environment
)
INSERT INTO {CHANGES}
SELECT n.id, n.raw_import_records_id, NULL, :data_import_id, 'created', n.name, n.asset_type,
       n.environment, i.summary
FROM created n JOIN {INCOMING} i ON i.raw_import_record_id = n.raw_import_records_id
"""

_LINKED = ", ".join(f"'{kind}'" for kind in LINKED_KINDS)

#: The one write of a raw record after its load: its asset (or its rejection), its note,
#: and its cleansed summary. Counts (linked, rejected).
LINK_SQL = f"""
WITH written AS (
    UPDATE migration.raw_import_records r
    SET asset_id = n.asset_id, is_processed = true, processed_at = now(),
        processing_notes = CASE WHEN n.change = '{REJECTED}' THEN '{REJECTED_PREFIX}'
                                ELSE 'Linked to: ' END || n.name,
        cleansed_data = n.summary
    FROM {CHANGES} n
    WHERE {tenant_filter("r")} AND r.id = n.raw_import_record_id AND r.asset_id IS NULL
      AND n.change IN ({_LINKED}, '{REJECTED}')
    RETURNING n.change = '{REJECTED}' AS rejected
)
SELECT count(*) FILTER (WHERE NOT rejected) AS linked, count(*) FILTER (WHERE rejected) AS rejected
FROM written
"""

#: The record an update replaced keeps its asset_id (history) and names its successor; a
#: late record of an older import names the asset's current record.
SUPERSEDE_SQL = f"""
UPDATE migration.raw_import_records r
SET superseded_by = s.successor, processing_notes = 'Superseded by ' || s.successor
FROM (
    SELECT n.previous_record_id AS id, n.raw_import_record_id AS successor
    FROM {CHANGES} n WHERE n.change IN ('updated', 'unchanged', 'revived')
    UNION ALL
    SELECT n.raw_import_record_id, n.previous_record_id
    FROM {CHANGES} n WHERE n.change = '{HISTORY}'
) AS s
WHERE {tenant_filter("r")} AND r.id = s.id
"""

#: The partition's imports with open records the cleansing judged (how many: about as many
#: rows as each import writes), in the order they were registered:
#: a later export of a flow is applied after an earlier one, even within one run. Only the
#: flow's latest loaded import (`is_latest_import`, the standing health measures by too)
#: may update and retire assets: records of an older one that are processed late
#: (re-queued by the backfill, say) say nothing about what the estate is now.
OPEN_IMPORTS_SQL = f"""
SELECT d.id, d.discovery_flow_id, d.is_partial, d.filename,
       d.retirement_confirmed_at IS NOT NULL AS retirement_confirmed,
       {is_latest_import("d")} AS is_latest, o.records AS open_records
FROM migration.data_imports d
JOIN (SELECT r.data_import_id, count(*) AS records FROM migration.raw_import_records r
      WHERE {OPEN_RECORD_SQL} AND NOT {UNCLEANSED_SQL}
      GROUP BY r.data_import_id) AS o ON o.data_import_id = d.id
WHERE {tenant_filter("d")}
ORDER BY d.created_at, d.id
"""
