"""The SQL of a backfill, as named builders: the plan of a batch per table, its dry run, its
execute (repair, audit and summary in one statement), and the undo of a run.

A plan is a chain of CTEs over one batch of one table: `facts` of the current state,
`effective` references (a reference to a missing row counts as NULL), `decided` repairs,
the planned `new_*` values, and `plan_changes`, the `{column: {old, new, repair}}` of every
value that differs. Repair names come from the links of `domain/contract/`.
"""

from __future__ import annotations

from wiring_pipeline.domain.backfill.repairs import AUDITED_COLUMNS, SAMPLE_LIMIT, Table
from wiring_pipeline.domain.contract.links import ASSET_REF, FLOW_REF, RAW_IMPORT_REF, SUPERSEDED_BY
from wiring_pipeline.domain.core.tenancy import tenant_filter

_CLEAR_FLOW = FLOW_REF.clear_repair
_RELINK_FLOW = FLOW_REF.relink_repair
_CLEAR_RAW = RAW_IMPORT_REF.clear_repair
_COMPLETE_RAW = RAW_IMPORT_REF.complete_repair
_CLEAR_ASSET = ASSET_REF.clear_repair
_COMPLETE_ASSET = ASSET_REF.complete_repair
_CLEAR_SUCCESSOR = SUPERSEDED_BY.clear_repair


def _exists(table: str, alias: str, condition: str) -> str:
    scope = tenant_filter(alias)
    return f"EXISTS (SELECT 1 FROM migration.{table} {alias} WHERE {scope} AND {condition})"


def _changes(table: Table, entries: list[tuple[str, str]]) -> str:
    """`{column: {old, new, repair}}` for every column whose planned value differs.

    `entries` is (column, repair expression); the plan row has `column` and `new_column`.
    """
    rows = ", ".join(
        f"('{column}', {repair}, to_jsonb(p.{column}), to_jsonb(p.new_{column}),"
        f" p.{column} IS DISTINCT FROM p.new_{column})"
        for column, repair in entries
    )
    assert {c for c, _ in entries} == set(AUDITED_COLUMNS[table])
    # A NULL value leaves its key out, so that `-> 'old'` gives SQL NULL back, while a
    # JSON null stored in a jsonb column stays a JSON null.
    return f"""(SELECT coalesce(jsonb_object_agg(v.col,
                    jsonb_build_object('repair', v.repair)
                    || CASE WHEN v.old IS NULL THEN '{{}}' ELSE jsonb_build_object('old', v.old) END
                    || CASE WHEN v.new IS NULL THEN '{{}}' ELSE jsonb_build_object('new', v.new) END
                ), '{{}}'::jsonb)
             FROM (VALUES {rows}) AS v(col, repair, old, new, changed) WHERE v.changed)"""


def _array(*flags: tuple[str, str]) -> str:
    """A text[] of the names whose condition holds, in the given order."""
    return (
        "array_remove(ARRAY["
        + ", ".join(f"CASE WHEN {condition} THEN '{name}' END" for name, condition in flags)
        + "]::text[], NULL)"
    )


_CLAIMED_BY_ANOTHER = "t.raw_import_records_id = claim.record_id AND t.id <> a.id"

# Assets of one batch. `f_*` are facts of the current state, `eff_*` the references that
# survive clearing, `new_*` the planned values; only columns a repair may change are planned.
_ASSET_FACTS = f"""
    facts AS (
        SELECT a.id, a.name, a.flow_id, a.discovery_method, a.discovery_flow_id,
               a.master_flow_id, a.raw_import_records_id, a.updated_at,
               a.discovery_flow_id IS NOT NULL
                   AND NOT {_exists("discovery_flows", "f", "f.id = a.discovery_flow_id")}
                   AS flow_orphan,
               lf.id AS legacy_flow_row_id, lf.master_flow_id AS legacy_master_flow_id,
               a.raw_import_records_id IS NOT NULL AND rr.id IS NULL AS raw_orphan,
               rr.asset_id AS record_names,
               rr.asset_id IS NOT NULL AND rr.asset_id <> a.id
                   AND {_exists("assets", "o", "o.id = rr.asset_id")} AS record_names_another,
               claim.n AS claimants, claim.record_id AS claimant_record_id,
               {_exists("assets", "t", _CLAIMED_BY_ANOTHER)} AS claimant_taken
        FROM migration.assets a
        LEFT JOIN migration.discovery_flows lf
          ON {tenant_filter("lf")} AND lf.flow_id = a.flow_id
        LEFT JOIN migration.raw_import_records rr
          ON {tenant_filter("rr")} AND rr.id = a.raw_import_records_id
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, (array_agg(c.id ORDER BY c.id))[1] AS record_id
            FROM migration.raw_import_records c
            WHERE {tenant_filter("c")} AND c.asset_id = a.id AND c.superseded_by IS NULL
        ) AS claim
        WHERE {tenant_filter("a")} AND a.id BETWEEN :first_id AND :last_id
    ),
    effective AS (
        SELECT facts.*,
               CASE WHEN flow_orphan THEN NULL ELSE discovery_flow_id END AS eff_flow,
               CASE WHEN raw_orphan THEN NULL ELSE raw_import_records_id END AS eff_raw
        FROM facts
    ),
    decided AS (
        SELECT effective.*,
               eff_flow IS NULL AND legacy_flow_row_id IS NOT NULL AS relink,
               eff_raw IS NULL AND claimants = 1 AND NOT claimant_taken AS link_back
        FROM effective
    ),
    planned AS (
        SELECT d.*,
               CASE WHEN relink THEN legacy_flow_row_id ELSE eff_flow END
                   AS new_discovery_flow_id,
               CASE WHEN relink THEN legacy_master_flow_id
                    WHEN flow_orphan THEN NULL ELSE master_flow_id END AS new_master_flow_id,
               CASE WHEN link_back THEN claimant_record_id ELSE eff_raw END
                   AS new_raw_import_records_id,
               {
    _array(
        (_CLEAR_FLOW, "flow_orphan"),
        (_CLEAR_RAW, "raw_orphan"),
        (_RELINK_FLOW, "relink"),
        (_COMPLETE_RAW, "link_back"),
    )
} AS repairs,
               {
    _array(
        (
            "unmatched_legacy_flow_id",
            "eff_flow IS NULL AND flow_id IS NOT NULL AND legacy_flow_row_id IS NULL",
        ),
        (
            "flow_based_without_flow_ref",
            "eff_flow IS NULL AND flow_id IS NULL AND discovery_method = 'flow_based'",
        ),
        ("link_conflicts", "eff_raw IS NOT NULL AND record_names_another"),
    )
} AS problems
        FROM decided d
    ),
    plan AS (
        SELECT p.*,
               CASE WHEN cardinality(p.repairs) > 0 THEN now() ELSE p.updated_at END
                   AS new_updated_at
        FROM planned p
    ),
    plan_changes AS (
        SELECT p.*, {
    _changes(
        "assets",
        [
            (
                "discovery_flow_id",
                f"CASE WHEN p.relink THEN '{_RELINK_FLOW}' ELSE '{_CLEAR_FLOW}' END",
            ),
            (
                "master_flow_id",
                f"CASE WHEN p.relink THEN '{_RELINK_FLOW}' ELSE '{_CLEAR_FLOW}' END",
            ),
            (
                "raw_import_records_id",
                f"CASE WHEN p.link_back THEN '{_COMPLETE_RAW}' ELSE '{_CLEAR_RAW}' END",
            ),
            ("updated_at", "array_to_string(p.repairs, ',')"),
        ],
    )
} AS changes
        FROM plan p
    )"""

# Raw records of one batch. The record's asset "will claim" it when that asset has no
# usable raw record link, this record alone names it, and no other asset claims the record:
# exactly the assets whose `complete_raw_import_ref` the asset plan makes. A record a
# re-import superseded (DESIGN 3a) is history: never requeued, never claimed, and not a
# conflict while its successor points at the same asset; only an orphan link is cleared.
_RAW_FACTS = f"""
    facts AS (
        SELECT r.id, r.row_number, r.asset_id, r.is_processed, r.processed_at,
               r.processing_notes, r.cleansed_data, r.superseded_by,
               r.asset_id IS NOT NULL AND ta.id IS NULL AS asset_orphan,
               r.superseded_by IS NOT NULL
                   AND NOT {_exists("raw_import_records", "y", "y.id = r.superseded_by")}
                   AS successor_orphan,
               {ASSET_REF.is_history("r")} AS history,
               ta.raw_import_records_id AS asset_names,
               ta.raw_import_records_id IS NULL
                   OR NOT {_exists("raw_import_records", "x", "x.id = ta.raw_import_records_id")}
                   AS asset_link_free,
               (SELECT count(*) FROM migration.raw_import_records c
                WHERE {tenant_filter("c")} AND c.asset_id = r.asset_id
                  AND c.superseded_by IS NULL) AS asset_claimants,
               ca.id AS claimant_id, ca.name AS claimant_name, ta.name AS asset_name
        FROM migration.raw_import_records r
        LEFT JOIN migration.assets ta ON {tenant_filter("ta")} AND ta.id = r.asset_id
        LEFT JOIN migration.assets ca
          ON {tenant_filter("ca")} AND ca.raw_import_records_id = r.id
        WHERE {tenant_filter("r")} AND r.id BETWEEN :first_id AND :last_id
    ),
    effective AS (
        SELECT facts.*,
               CASE WHEN asset_orphan THEN NULL ELSE asset_id END AS eff_asset,
               superseded_by IS NOT NULL AND NOT successor_orphan AS superseded
        FROM facts
    ),
    decided AS (
        SELECT effective.*,
               eff_asset IS NULL AND claimant_id IS NOT NULL AS link_to_claimant,
               eff_asset IS NOT NULL AND claimant_id IS NULL AND asset_link_free
                   AND asset_claimants = 1 AND NOT superseded AS asset_will_claim,
               asset_orphan AND claimant_id IS NULL AND NOT superseded AS requeue
        FROM effective
    ),
    paired AS (
        SELECT decided.*,
               CASE WHEN link_to_claimant THEN claimant_id ELSE eff_asset END AS final_asset,
               CASE WHEN link_to_claimant THEN claimant_name ELSE asset_name END
                   AS final_asset_name,
               (link_to_claimant OR claimant_id = eff_asset OR asset_will_claim) AS linked
        FROM decided
    ),
    plan AS (
        SELECT p.*,
               p.final_asset AS new_asset_id,
               CASE WHEN requeue THEN false WHEN linked THEN true ELSE is_processed END
                   AS new_is_processed,
               CASE WHEN requeue THEN NULL WHEN linked AND NOT is_processed THEN now()
                    ELSE processed_at END AS new_processed_at,
               CASE WHEN requeue THEN CAST(:requeue_note AS text)
                    WHEN linked AND NOT is_processed THEN 'Linked to: ' || final_asset_name
                    ELSE processing_notes END AS new_processing_notes,
               CASE WHEN requeue THEN NULL ELSE cleansed_data END AS new_cleansed_data,
               CASE WHEN successor_orphan THEN NULL ELSE superseded_by END AS new_superseded_by,
               {
    _array(
        (_CLEAR_ASSET, "asset_orphan"),
        (_COMPLETE_ASSET, "link_to_claimant OR (linked AND NOT is_processed)"),
        (_CLEAR_SUCCESSOR, "successor_orphan"),
    )
} AS repairs,
               {
    _array(
        (
            "link_conflicts",
            "eff_asset IS NOT NULL AND asset_names IS DISTINCT FROM id AND NOT asset_will_claim"
            " AND NOT history",
        ),
    )
} AS problems,
               concat('raw record, row ', row_number) AS name
        FROM paired p
    ),
    plan_changes AS (
        SELECT p.*, {
    _changes(
        "raw_import_records",
        [
            (
                "asset_id",
                f"CASE WHEN p.link_to_claimant THEN '{_COMPLETE_ASSET}' ELSE '{_CLEAR_ASSET}' END",
            ),
            (
                "is_processed",
                f"CASE WHEN p.requeue THEN '{_CLEAR_ASSET}' ELSE '{_COMPLETE_ASSET}' END",
            ),
            (
                "processed_at",
                f"CASE WHEN p.requeue THEN '{_CLEAR_ASSET}' ELSE '{_COMPLETE_ASSET}' END",
            ),
            (
                "processing_notes",
                f"CASE WHEN p.requeue THEN '{_CLEAR_ASSET}' ELSE '{_COMPLETE_ASSET}' END",
            ),
            ("cleansed_data", f"'{_CLEAR_ASSET}'"),
            ("superseded_by", f"'{_CLEAR_SUCCESSOR}'"),
        ],
    )
} AS changes
        FROM plan p
    )"""

_FACTS: dict[Table, str] = {"assets": _ASSET_FACTS, "raw_import_records": _RAW_FACTS}


def _guards(table: Table, alias: str) -> str:
    """The row still holds the values the plan read: a concurrent write makes it skip the row."""
    return " AND ".join(
        f"{alias}.{column} IS NOT DISTINCT FROM p.{column}" for column in AUDITED_COLUMNS[table]
    )


def _summary(source: str) -> str:
    """Counts and up to SAMPLE_LIMIT samples per repair and per unrepairable case.

    `source` yields (id, name, changes, repairs, problems) rows; repairs count only rows
    in it, problems count every row of the plan.
    """
    return f"""
    tagged AS (
        SELECT 'repair' AS kind, label, s.id, s.name, s.changes
        FROM {source} s CROSS JOIN LATERAL unnest(s.repairs) AS label
        UNION ALL
        SELECT 'unrepairable', label, p.id, p.name, NULL::jsonb
        FROM plan_changes p CROSS JOIN LATERAL unnest(p.problems) AS label
    ),
    numbered AS (
        SELECT tagged.*, count(*) OVER w AS n, row_number() OVER (w ORDER BY id) AS rn
        FROM tagged WINDOW w AS (PARTITION BY kind, label)
    )
    SELECT kind, label, n, id, name, changes FROM numbered WHERE rn <= {SAMPLE_LIMIT}
    ORDER BY kind, label, id"""


def dry_run_sql(table: Table) -> str:
    changed = "(SELECT * FROM plan_changes WHERE changes <> '{}'::jsonb)"
    return f"WITH {_FACTS[table]},{_summary(changed)}"


def execute_sql(table: Table) -> str:
    columns = AUDITED_COLUMNS[table]
    assignments = ", ".join(f"{column} = p.new_{column}" for column in columns)
    return f"""
    WITH {_FACTS[table]},
    changed AS (
        UPDATE migration.{table} t SET {assignments}
        FROM plan_changes p
        WHERE {tenant_filter("t")} AND t.id = p.id AND p.changes <> '{{}}'::jsonb
          AND {_guards(table, "t")}
        RETURNING t.id
    ),
    applied AS (
        SELECT p.* FROM plan_changes p JOIN changed USING (id)
    ),
    audited AS (
        INSERT INTO migration.backfill_audit
            (run_id, client_account_id, engagement_id, repair, table_name, row_id,
             column_name, old_value, new_value)
        SELECT :run_id, :client_account_id, :engagement_id, e.value ->> 'repair', '{table}',
               a.id, e.key, e.value -> 'old', e.value -> 'new'
        FROM applied a CROSS JOIN LATERAL jsonb_each(a.changes) AS e
        RETURNING 1
    ),{_summary("applied")}"""


def _typed(column_type: str, value: str) -> str:
    return value if column_type == "jsonb" else f"({value} #>> '{{}}')::{column_type}"


def undo_sql(table: Table) -> str:
    """Restore, for every row the run changed, each column's value from before the run.

    A column changed twice in one run keeps its first old value and its last new value. A
    row is restored only if it still holds every value the run left; others are returned
    as conflicts (their current value differs, or the row is gone).
    """
    columns = AUDITED_COLUMNS[table]
    pivot = ",\n".join(
        f"bool_or(column_name = '{c}') AS has_{c},"
        f" (array_agg(old_value) FILTER (WHERE column_name = '{c}'))[1] AS old_{c},"
        f" (array_agg(new_value) FILTER (WHERE column_name = '{c}'))[1] AS new_{c}"
        for c in columns
    )
    assignments = ", ".join(
        f"{c} = CASE WHEN e.has_{c} THEN {_typed(t, f'e.old_{c}')} ELSE t.{c} END"
        for c, t in columns.items()
    )
    unchanged = " AND ".join(
        f"(NOT e.has_{c} OR t.{c} IS NOT DISTINCT FROM {_typed(t, f'e.new_{c}')})"
        for c, t in columns.items()
    )
    return f"""
    WITH first_last AS (
        SELECT row_id, column_name,
               (array_agg(old_value ORDER BY id))[1] AS old_value,
               (array_agg(new_value ORDER BY id DESC))[1] AS new_value
        FROM migration.backfill_audit
        WHERE {tenant_filter()}
          AND run_id = :run_id AND table_name = '{table}'
        GROUP BY row_id, column_name
    ),
    entries AS (
        SELECT row_id, {pivot} FROM first_last GROUP BY row_id
    ),
    restored AS (
        UPDATE migration.{table} t SET {assignments}
        FROM entries e
        WHERE {tenant_filter("t")} AND t.id = e.row_id AND {unchanged}
        RETURNING t.id
    )
    SELECT (SELECT count(*) FROM entries) AS rows,
           (SELECT count(*) FROM restored) AS restored,
           ARRAY(SELECT e.row_id::text FROM entries e
                 WHERE NOT EXISTS (SELECT 1 FROM restored r WHERE r.id = e.row_id)
                 ORDER BY 1 LIMIT {SAMPLE_LIMIT}) AS conflicts
    """
