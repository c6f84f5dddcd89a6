"""Phase 4 of the source plan: repair the legacy wiring of one partition, audited and undoable.

The repairs (DESIGN section 3 names what is broken; these are what fixes it):

* `clear_orphan_flow_ref`, `clear_orphan_raw_ref` (assets) and `clear_orphan_asset_ref` (raw
  records): a reference to a row that does not exist in the partition (deleted, or of another
  tenant or engagement) is set to NULL, never pointed at something else. A raw record that
  nothing in the partition claims is also requeued: `asset_id`, `cleansed_data` and
  `processed_at` NULL, `is_processed` false, so the inventory pipeline cleanses and
  inventories it again. An asset cannot be re-derived from anything, so for an asset
  "requeued" means: it keeps its data and the cleared link is a *missing* link, which the
  health metrics report (an ERROR for a flow-based asset left without a flow) and the next
  repairs below may fill in; the audit keeps what it used to point at.
* `relink_flow` (a): an asset with a legacy `flow_id` and no usable `discovery_flow_id` gets
  the id and `master_flow_id` of the flow with that `flow_id` in the same tenant AND
  engagement (`uq_discovery_flows_tenant_flow_id` makes it unique there). Another tenant's
  flow with the same `flow_id` is never considered.
* `complete_asset_link`, `complete_raw_link` (b): a link that holds in one direction only
  gets the other direction; a raw record that ends up linked both ways is marked processed.

Every repair is computed from the *effective* state, in which references to missing rows
already count as NULL. So "clear, then relink" (an asset pointing at another engagement's
flow but carrying a legacy `flow_id` of its own partition) needs no second pass, the plan of
a batch does not depend on which table's batches ran first, and a dry run counts exactly
what an execute changes. Whatever would need a guess is left alone and counted as
unrepairable: a legacy `flow_id` no flow of the partition has, a flow-based asset with no
flow reference at all, and link conflicts (both sides name existing rows, differently, or
several records claim one asset). After an execute, `asymmetric_links` equals the
`link_conflicts` count.

Work is cut into batches by primary-key range, one table at a time; the caller runs each
batch in its own short transaction. An executed batch changes its rows, appends the old and
new value of every changed column to `backfill_audit` and updates its run's counts in one
statement, so a stopped run has recorded exactly what it did, and `undo_run` can restore it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Connection, text

from wiring_pipeline.domain.tenancy import TenantScope

SAMPLE_LIMIT = 5

Table = Literal["raw_import_records", "assets"]
#: Order of the passes; the plans are order-independent, this only makes progress readable.
BATCH_TABLES: tuple[Table, ...] = ("raw_import_records", "assets")

REPAIRS: dict[str, str] = {
    "clear_orphan_flow_ref": (
        "assets whose discovery_flow_id names no flow of the partition: cleared"
    ),
    "clear_orphan_raw_ref": (
        "assets whose raw_import_records_id names no record of the partition: cleared"
    ),
    "clear_orphan_asset_ref": (
        "raw records whose asset_id names no asset of the partition: cleared, "
        "and requeued unless an asset of the partition claims them"
    ),
    "relink_flow": "assets linked to the flow of the partition with their legacy flow_id",
    "complete_asset_link": "assets given the raw record that alone names them",
    "complete_raw_link": "raw records given the asset that names them, and marked processed",
}
UNREPAIRABLE: dict[str, str] = {
    "unmatched_legacy_flow_id": (
        "assets without a flow whose legacy flow_id no flow of this tenant and engagement has"
    ),
    "flow_based_without_flow_ref": (
        "flow-based assets with neither a discovery_flow_id nor a flow_id"
    ),
    "link_conflicts": (
        "links that stay one-way because the other side names a different existing row "
        "(counted on each side, as asymmetric_links is)"
    ),
}

#: The columns a repair may change, with their SQL types: what the audit stores and undo restores.
AUDITED_COLUMNS: dict[Table, dict[str, str]] = {
    "assets": {
        "discovery_flow_id": "uuid",
        "master_flow_id": "uuid",
        "raw_import_records_id": "uuid",
        "updated_at": "timestamptz",
    },
    "raw_import_records": {
        "asset_id": "uuid",
        "is_processed": "boolean",
        "processed_at": "timestamptz",
        "processing_notes": "text",
        "cleansed_data": "jsonb",
    },
}

REQUEUE_NOTE = "Requeued by backfill: its asset does not exist in this tenant and engagement"


class BackfillError(ValueError):
    """A backfill request that cannot be carried out as asked (unknown run, undo conflict)."""


def _scoped(alias: str) -> str:
    return (
        f"{alias}.client_account_id = :client_account_id AND {alias}.engagement_id = :engagement_id"
    )


def _exists(table: str, alias: str, condition: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM migration.{table} {alias} WHERE {_scoped(alias)} AND {condition})"
    )


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
          ON {_scoped("lf")} AND lf.flow_id = a.flow_id
        LEFT JOIN migration.raw_import_records rr
          ON {_scoped("rr")} AND rr.id = a.raw_import_records_id
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, (array_agg(c.id ORDER BY c.id))[1] AS record_id
            FROM migration.raw_import_records c
            WHERE {_scoped("c")} AND c.asset_id = a.id
        ) AS claim
        WHERE {_scoped("a")} AND a.id BETWEEN :first_id AND :last_id
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
        ("clear_orphan_flow_ref", "flow_orphan"),
        ("clear_orphan_raw_ref", "raw_orphan"),
        ("relink_flow", "relink"),
        ("complete_asset_link", "link_back"),
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
                "CASE WHEN p.relink THEN 'relink_flow' ELSE 'clear_orphan_flow_ref' END",
            ),
            (
                "master_flow_id",
                "CASE WHEN p.relink THEN 'relink_flow' ELSE 'clear_orphan_flow_ref' END",
            ),
            (
                "raw_import_records_id",
                "CASE WHEN p.link_back THEN 'complete_asset_link' ELSE 'clear_orphan_raw_ref' END",
            ),
            ("updated_at", "array_to_string(p.repairs, ',')"),
        ],
    )
} AS changes
        FROM plan p
    )"""

# Raw records of one batch. The record's asset "will claim" it when that asset has no
# usable raw record link, this record alone names it, and no other asset claims the record:
# exactly the assets whose `complete_asset_link` the asset plan makes.
_RAW_FACTS = f"""
    facts AS (
        SELECT r.id, r.row_number, r.asset_id, r.is_processed, r.processed_at,
               r.processing_notes, r.cleansed_data,
               r.asset_id IS NOT NULL AND ta.id IS NULL AS asset_orphan,
               ta.raw_import_records_id AS asset_names,
               ta.raw_import_records_id IS NULL
                   OR NOT {_exists("raw_import_records", "x", "x.id = ta.raw_import_records_id")}
                   AS asset_link_free,
               (SELECT count(*) FROM migration.raw_import_records c
                WHERE {_scoped("c")} AND c.asset_id = r.asset_id) AS asset_claimants,
               ca.id AS claimant_id, ca.name AS claimant_name, ta.name AS asset_name
        FROM migration.raw_import_records r
        LEFT JOIN migration.assets ta ON {_scoped("ta")} AND ta.id = r.asset_id
        LEFT JOIN migration.assets ca
          ON {_scoped("ca")} AND ca.raw_import_records_id = r.id
        WHERE {_scoped("r")} AND r.id BETWEEN :first_id AND :last_id
    ),
    effective AS (
        SELECT facts.*,
               CASE WHEN asset_orphan THEN NULL ELSE asset_id END AS eff_asset
        FROM facts
    ),
    decided AS (
        SELECT effective.*,
               eff_asset IS NULL AND claimant_id IS NOT NULL AS link_to_claimant,
               eff_asset IS NOT NULL AND claimant_id IS NULL AND asset_link_free
                   AND asset_claimants = 1 AS asset_will_claim,
               asset_orphan AND claimant_id IS NULL AS requeue
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
               {
    _array(
        ("clear_orphan_asset_ref", "asset_orphan"),
        ("complete_raw_link", "link_to_claimant OR (linked AND NOT is_processed)"),
    )
} AS repairs,
               {
    _array(
        (
            "link_conflicts",
            "eff_asset IS NOT NULL AND asset_names IS DISTINCT FROM id AND NOT asset_will_claim",
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
                "CASE WHEN p.link_to_claimant THEN 'complete_raw_link'"
                " ELSE 'clear_orphan_asset_ref' END",
            ),
            (
                "is_processed",
                "CASE WHEN p.requeue THEN 'clear_orphan_asset_ref' ELSE 'complete_raw_link' END",
            ),
            (
                "processed_at",
                "CASE WHEN p.requeue THEN 'clear_orphan_asset_ref' ELSE 'complete_raw_link' END",
            ),
            (
                "processing_notes",
                "CASE WHEN p.requeue THEN 'clear_orphan_asset_ref' ELSE 'complete_raw_link' END",
            ),
            ("cleansed_data", "'clear_orphan_asset_ref'"),
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


def _dry_run_sql(table: Table) -> str:
    changed = "(SELECT * FROM plan_changes WHERE changes <> '{}'::jsonb)"
    return f"WITH {_FACTS[table]},{_summary(changed)}"


def _execute_sql(table: Table) -> str:
    columns = AUDITED_COLUMNS[table]
    assignments = ", ".join(f"{column} = p.new_{column}" for column in columns)
    return f"""
    WITH {_FACTS[table]},
    changed AS (
        UPDATE migration.{table} t SET {assignments}
        FROM plan_changes p
        WHERE {_scoped("t")} AND t.id = p.id AND p.changes <> '{{}}'::jsonb
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


@dataclass
class Tally:
    """What a run did (or would do) so far: counts and samples per repair and problem."""

    repairs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REPAIRS, 0))
    unrepairable: dict[str, int] = field(default_factory=lambda: dict.fromkeys(UNREPAIRABLE, 0))
    samples: dict[str, list[dict]] = field(default_factory=dict)
    batches: int = 0

    def add(self, other: Tally) -> Tally:
        """The sum of two tallies, keeping the first SAMPLE_LIMIT samples of each label."""
        total = Tally(batches=self.batches + other.batches)
        for name in REPAIRS:
            total.repairs[name] = self.repairs[name] + other.repairs[name]
        for name in UNREPAIRABLE:
            total.unrepairable[name] = self.unrepairable[name] + other.unrepairable[name]
        for label in {*self.samples, *other.samples}:
            merged = self.samples.get(label, []) + other.samples.get(label, [])
            total.samples[label] = merged[:SAMPLE_LIMIT]
        return total

    def counts_json(self) -> dict:
        return {
            "repairs": dict(self.repairs),
            "unrepairable": dict(self.unrepairable),
            "batches": self.batches,
        }

    @classmethod
    def from_counts_json(cls, counts: dict) -> Tally:
        tally = cls(batches=int(counts.get("batches", 0)))
        tally.repairs.update(counts.get("repairs", {}))
        tally.unrepairable.update(counts.get("unrepairable", {}))
        return tally

    @property
    def changed_rows(self) -> int:
        return sum(self.repairs.values())


def _tally(rows) -> Tally:
    tally = Tally(batches=1)
    for row in rows:
        counts = tally.repairs if row.kind == "repair" else tally.unrepairable
        counts[row.label] = int(row.n)
        sample = {"id": str(row.id), "name": row.name}
        if row.changes is not None:
            sample["changes"] = row.changes
        tally.samples.setdefault(row.label, []).append(sample)
    return tally


def next_batch(
    conn: Connection, scope: TenantScope, table: Table, after: uuid.UUID | None, size: int
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The first and last id of the next `size` rows of the partition after `after`."""
    if table not in AUDITED_COLUMNS:
        raise BackfillError(f"no backfill of table {table!r}")
    if size < 1:
        raise BackfillError(f"batch size must be at least 1, not {size}")
    after_clause = "" if after is None else "AND id > :after"
    row = conn.execute(
        text(
            f"""
            SELECT (array_agg(id ORDER BY id))[1] AS first_id,
                   (array_agg(id ORDER BY id DESC))[1] AS last_id
            FROM (SELECT id FROM migration.{table}
                  WHERE client_account_id = :client_account_id
                    AND engagement_id = :engagement_id {after_clause}
                  ORDER BY id LIMIT :size) AS batch
            """
        ),
        {**scope.as_params(), "after": after, "size": size},
    ).one()
    return None if row.first_id is None else (row.first_id, row.last_id)


def plan_batch(
    conn: Connection, scope: TenantScope, table: Table, first: uuid.UUID, last: uuid.UUID
) -> Tally:
    """What executing the batch would change, counted and sampled; reads only."""
    rows = conn.execute(
        text(_dry_run_sql(table)),
        {**scope.as_params(), "first_id": first, "last_id": last, "requeue_note": REQUEUE_NOTE},
    ).all()
    return _tally(rows)


def apply_batch(
    conn: Connection,
    scope: TenantScope,
    run_id: str,
    table: Table,
    first: uuid.UUID,
    last: uuid.UUID,
    so_far: Tally,
) -> Tally:
    """Repair the batch, audit every changed value, and record the run's new totals.

    A row that a concurrent writer changed after the plan read it is skipped (its guard
    fails) and is repaired by the next run. Returns this batch's tally.
    """
    rows = conn.execute(
        text(_execute_sql(table)),
        {
            **scope.as_params(),
            "first_id": first,
            "last_id": last,
            "run_id": run_id,
            "requeue_note": REQUEUE_NOTE,
        },
    ).all()
    batch = _tally(rows)
    conn.execute(
        text(
            """
            UPDATE migration.backfill_runs SET counts = CAST(:counts AS jsonb)
            WHERE client_account_id = :client_account_id AND engagement_id = :engagement_id
              AND run_id = :run_id
            """
        ),
        {
            **scope.as_params(),
            "run_id": run_id,
            "counts": json.dumps(so_far.add(batch).counts_json()),
        },
    )
    return batch


@dataclass(frozen=True)
class BackfillRun:
    run_id: str
    partition_key: str
    counts: dict
    finished: bool
    undone: bool


def start_run(conn: Connection, scope: TenantScope, run_id: str) -> Tally:
    """Record an executing run; a run id seen before (a retried step) resumes its totals."""
    conn.execute(
        text(
            """
            INSERT INTO migration.backfill_runs
                (run_id, client_account_id, engagement_id, partition_key)
            VALUES (:run_id, :client_account_id, :engagement_id, :partition_key)
            ON CONFLICT (run_id) DO NOTHING
            """
        ),
        {**scope.as_params(), "run_id": run_id, "partition_key": scope.partition_key},
    )
    counts = conn.execute(
        text(
            """
            SELECT counts FROM migration.backfill_runs
            WHERE client_account_id = :client_account_id AND engagement_id = :engagement_id
              AND run_id = :run_id
            """
        ),
        {**scope.as_params(), "run_id": run_id},
    ).scalar_one_or_none()
    if counts is None:
        raise BackfillError(f"backfill run {run_id!r} belongs to another partition")
    return Tally.from_counts_json(counts)


def finish_run(conn: Connection, scope: TenantScope, run_id: str) -> None:
    _stamp_run(conn, scope, run_id, "finished_at")


def _stamp_run(
    conn: Connection, scope: TenantScope, run_id: str, column: Literal["finished_at", "undone_at"]
) -> None:
    """Set one of the run's two timestamps; `column` is a literal of this module, never input."""
    conn.execute(
        text(
            f"""
            UPDATE migration.backfill_runs SET {column} = now()
            WHERE client_account_id = :client_account_id AND engagement_id = :engagement_id
              AND run_id = :run_id
            """
        ),
        {**scope.as_params(), "run_id": run_id},
    )


def find_run(conn: Connection, run_id: str) -> BackfillRun:
    """An executed run by its id, whichever partition it belongs to (for `--undo RUN_ID`)."""
    row = conn.execute(
        text(
            """
            SELECT run_id, partition_key, counts, finished_at IS NOT NULL AS finished,
                   undone_at IS NOT NULL AS undone
            FROM migration.backfill_runs WHERE run_id = :run_id
            """
        ),
        {"run_id": run_id},
    ).one_or_none()
    if row is None:
        raise BackfillError(
            f"no executed backfill run {run_id!r} (dry runs change nothing and are not recorded)"
        )
    return BackfillRun(row.run_id, row.partition_key, row.counts, row.finished, row.undone)


def _typed(column_type: str, value: str) -> str:
    return value if column_type == "jsonb" else f"({value} #>> '{{}}')::{column_type}"


def _undo_sql(table: Table) -> str:
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
        WHERE client_account_id = :client_account_id AND engagement_id = :engagement_id
          AND run_id = :run_id AND table_name = '{table}'
        GROUP BY row_id, column_name
    ),
    entries AS (
        SELECT row_id, {pivot} FROM first_last GROUP BY row_id
    ),
    restored AS (
        UPDATE migration.{table} t SET {assignments}
        FROM entries e
        WHERE {_scoped("t")} AND t.id = e.row_id AND {unchanged}
        RETURNING t.id
    )
    SELECT (SELECT count(*) FROM entries) AS rows,
           (SELECT count(*) FROM restored) AS restored,
           ARRAY(SELECT e.row_id::text FROM entries e
                 WHERE NOT EXISTS (SELECT 1 FROM restored r WHERE r.id = e.row_id)
                 ORDER BY 1 LIMIT {SAMPLE_LIMIT}) AS conflicts
    """


def undo_run(conn: Connection, scope: TenantScope, run_id: str) -> dict[str, int]:
    """Put back every value one executed run changed, or nothing at all.

    Refuses (BackfillError, and the caller's transaction rolls back) when a row has changed
    since the run: restoring it would overwrite a newer write. Undo later runs first.
    Returns the restored rows per table.
    """
    run = conn.execute(
        text(
            """
            SELECT undone_at FROM migration.backfill_runs
            WHERE client_account_id = :client_account_id AND engagement_id = :engagement_id
              AND run_id = :run_id
            FOR UPDATE
            """
        ),
        {**scope.as_params(), "run_id": run_id},
    ).one_or_none()
    if run is None:
        raise BackfillError(
            f"partition {scope.partition_key!r} has no executed backfill run {run_id!r}"
        )
    if run.undone_at is not None:
        raise BackfillError(f"backfill run {run_id!r} was undone already at {run.undone_at}")
    restored: dict[str, int] = {}
    for table in BATCH_TABLES:
        row = conn.execute(text(_undo_sql(table)), {**scope.as_params(), "run_id": run_id}).one()
        if row.restored != row.rows:
            raise BackfillError(
                f"cannot undo backfill run {run_id!r}: {row.rows - row.restored} {table} rows "
                f"changed since the run (e.g. {', '.join(row.conflicts)}); undo later runs "
                "first, or repair those rows by hand"
            )
        restored[table] = int(row.restored)
    _stamp_run(conn, scope, run_id, "undone_at")
    return restored
