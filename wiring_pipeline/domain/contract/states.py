"""The states of a record and an asset that every stage reads and writes.

Loading, cleansing, the inventory, health and the backfill all speak of a *rejected* record,
an *open* record, a *retired* asset and a *flow-based* discovery; each is spelled here once,
so no stage has to import another stage to know what the words mean.
"""

from __future__ import annotations

from wiring_pipeline.domain.core.tenancy import tenant_filter

#: The start of a rejected record's `processing_notes` (DESIGN 3: processed, no asset).
REJECTED_PREFIX = "Rejected: "

#: `current_phase` of an asset the inventory built or updated, and of one its source dropped.
INVENTORY_PHASE = "inventory"
RETIRED_PHASE = "retired"

#: How the pipeline discovered the assets it writes (`discovery_method`, `discovery_source`).
DISCOVERY_METHOD = "flow_based"
DISCOVERY_SOURCE = "Discovery Flow"

#: Raw records of the partition that are not processed and name no asset.
UNLINKED_RECORD_SQL = f"""
    {tenant_filter("r")}
    AND NOT r.is_processed AND r.asset_id IS NULL
"""

#: Raw records the pipeline still has to process: not processed, not linked either way.
#: A record that a legacy asset already names is left alone: linking it is the backfill's
#: job, and a second asset for it would break the one-asset-per-record rule.
OPEN_RECORD_SQL = f"""{UNLINKED_RECORD_SQL}
    AND NOT EXISTS (
        SELECT 1 FROM migration.assets a
        WHERE {tenant_filter("a")} AND a.raw_import_records_id = r.id)
"""

#: Open records with nothing in the archive: not cleansed yet (the cleansing removes the
#: archived values an earlier spec of the flow gave first, so what is left is current).
UNCLEANSED_SQL = f"""NOT EXISTS (
        SELECT 1 FROM migration.cleansed_record_archive c
        WHERE {tenant_filter("c")} AND c.raw_import_record_id = r.id)"""

#: `data_imports.status` of an import whose rows are in the partition (the others are
#: `pending`, not read yet, and `failed`, never to be read).
LOADED_IMPORT = "loaded"


def is_latest_import(alias: str) -> str:
    """The import `alias` is its flow's latest *loaded* import of the partition: the export
    the flow's inventory now stands for.

    One standing for every stage: the inventory applies this import's updates and
    retirements, and health counts the rows it lost (DESIGN 3b). An import registered
    later but not loaded yet (pending) or never to be (failed) says nothing about the
    estate, so it does not make a loaded export stale: otherwise an `import` registered
    between a run's load and inventory steps would turn that run's updates into history
    and skip its retirements.
    """
    return f"""NOT EXISTS (
        SELECT 1 FROM migration.data_imports later
        WHERE {tenant_filter("later")} AND later.discovery_flow_id = {alias}.discovery_flow_id
          AND later.status = '{LOADED_IMPORT}'
          AND (later.created_at, later.id) > ({alias}.created_at, {alias}.id))"""
