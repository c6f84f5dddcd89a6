"""Phase 4 of the source plan: repair the legacy wiring of one partition, audited and undoable.

The repairs (DESIGN section 3 names what is broken; these are what fixes it):

* `clear_orphan_flow_ref`, `clear_orphan_raw_import_ref` (assets) and `clear_orphan_asset_ref`
  (raw records): a reference to a row that does not exist in the partition (deleted, or of another
  tenant or engagement) is set to NULL, never pointed at something else. A raw record that
  nothing in the partition claims is also requeued: `asset_id`, `cleansed_data` and
  `processed_at` NULL, `is_processed` false, so the inventory pipeline inventories it
  again (from its archived values if its flow's spec cleansed it, else cleansing it
  first). An asset cannot be re-derived from anything, so for an asset
  "requeued" means: it keeps its data and the cleared link is a *missing* link, which the
  health metrics report (an ERROR for a flow-based asset left without a flow) and the next
  repairs below may fill in; the audit keeps what it used to point at.
* `relink_flow_ref` (a): an asset with a legacy `flow_id` and no usable `discovery_flow_id` gets
  the id and `master_flow_id` of the flow with that `flow_id` in the same tenant AND
  engagement (`uq_discovery_flows_tenant_flow_id` makes it unique there). Another tenant's
  flow with the same `flow_id` is never considered.
* `complete_raw_import_ref`, `complete_asset_ref` (b): a link that holds in one direction only
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

The modules: `repairs` (what may be done, named after the links of `domain/contract/`,
and the tally), `sql` (the named SQL builders), `batches` (plan or apply one batch),
`audit` (the run's record and its undo). The transactions are the runner's
(`db/backfill_runs.py`).
"""

from wiring_pipeline.domain.backfill.audit import (
    BackfillRun,
    find_run,
    finish_run,
    start_run,
    undo_run,
)
from wiring_pipeline.domain.backfill.batches import apply_batch, next_batch, plan_batch
from wiring_pipeline.domain.backfill.repairs import (
    AUDITED_COLUMNS,
    BATCH_TABLES,
    REPAIRS,
    REQUEUE_NOTE,
    SAMPLE_LIMIT,
    UNREPAIRABLE,
    BackfillError,
    Table,
    Tally,
)

__all__ = [
    "AUDITED_COLUMNS",
    "BATCH_TABLES",
    "REPAIRS",
    "REQUEUE_NOTE",
    "SAMPLE_LIMIT",
    "UNREPAIRABLE",
    "BackfillError",
    "BackfillRun",
    "Table",
    "Tally",
    "apply_batch",
    "find_run",
    "finish_run",
    "next_batch",
    "plan_batch",
    "start_run",
    "undo_run",
]
