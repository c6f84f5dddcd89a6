"""The inventory pipeline of one tenant engagement: files → raw records → cleansed → inventory.

Each Dagster asset is one unit of work: it opens the partition's transaction, calls the
domain, and returns metadata only (the database is the state, nothing goes through an IO
manager). A step that fails rolls back everything it did.
"""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.cleansing import cleanse_open_records
from wiring_pipeline.domain.inventory import InventoryResult, build_inventory
from wiring_pipeline.domain.loading import load_pending_imports
from wiring_pipeline.resources import WiringDatabase

GROUP = "discovery"


@asset(partitions_def=tenant_engagements, group_name=GROUP, kinds={"postgres"})
def raw_import_records(
    context: AssetExecutionContext, wiring_db: WiringDatabase
) -> MaterializeResult:
    """Every pending import file of the partition, loaded row by row (bad rows kept aside)."""
    with wiring_db.unit_of_work(context.partition_key) as work:
        results = load_pending_imports(work.conn, work.scope)
    for result in results:
        if result.status == "failed":
            context.log.error(f"import {result.data_import_id} failed: {result.error}")
        else:
            context.log.info(
                f"{result.filename}: {result.loaded_rows} rows loaded, "
                f"{result.rejected_rows} rejected"
            )
    if not results:
        context.log.info(f"{context.partition_key}: no pending imports")
    failed = [r for r in results if r.status == "failed"]
    return MaterializeResult(
        metadata={
            "imports_loaded": MetadataValue.int(len(results) - len(failed)),
            "imports_failed": MetadataValue.int(len(failed)),
            "loaded_rows": MetadataValue.int(sum(r.loaded_rows for r in results)),
            "rejected_rows": MetadataValue.int(sum(r.rejected_rows for r in results)),
            "imports": MetadataValue.md(_imports_table(results)),
            "failed_imports": MetadataValue.json([r.as_json() for r in failed]),
        }
    )


def _imports_table(results) -> str:
    lines = ["| file | status | loaded | rejected | error |", "|---|---|---:|---:|---|"]
    lines += [
        f"| {r.filename} | {r.status} | {r.loaded_rows} | {r.rejected_rows} | {r.error or ''} |"
        for r in results
    ]
    return "\n".join(lines)


@asset(
    partitions_def=tenant_engagements,
    group_name=GROUP,
    kinds={"postgres"},
    deps=[raw_import_records],
)
def cleansed_import_records(
    context: AssetExecutionContext, wiring_db: WiringDatabase
) -> MaterializeResult:
    """The flow's field mappings applied; records missing a critical field are rejected."""
    with wiring_db.unit_of_work(context.partition_key) as work:
        result = cleanse_open_records(work.conn, work.scope)
    if result.without_mappings:
        context.log.warning(
            f"{result.without_mappings} open records have no discovery flow with field "
            "mappings in this partition and were not cleansed"
        )
    return MaterializeResult(
        metadata={
            "cleansed": MetadataValue.int(result.cleansed),
            "rejected": MetadataValue.int(result.rejected),
            "without_mappings": MetadataValue.int(result.without_mappings),
            "rejected_by_reason": MetadataValue.json(result.rejected_by_reason),
        }
    )


@asset(
    partitions_def=tenant_engagements,
    group_name=GROUP,
    kinds={"postgres"},
    deps=[cleansed_import_records],
)
def asset_inventory(context: AssetExecutionContext, wiring_db: WiringDatabase) -> MaterializeResult:
    """Inventory assets created and their raw records linked back, in one transaction."""
    with wiring_db.unit_of_work(context.partition_key) as work:
        result = build_inventory(work.conn, work.scope)
    context.log.info(
        f"{context.partition_key}: {result.created} inventory assets created and linked"
    )
    return MaterializeResult(metadata=inventory_metadata(result))


def inventory_metadata(result: InventoryResult) -> dict:
    return {
        "created": MetadataValue.int(result.created),
        "linked": MetadataValue.int(result.linked),
        "rejected": MetadataValue.int(result.rejected),
        "skipped_legacy_linked": MetadataValue.int(result.skipped_legacy_linked),
        "skipped_uncleansed": MetadataValue.int(result.skipped_uncleansed),
        "created_by_type": MetadataValue.json(result.by_type),
        "created_by_environment": MetadataValue.json(result.by_environment),
        "preview": MetadataValue.md(_preview_table(result.preview)),
    }


def _preview_table(rows: list[dict]) -> str:
    if not rows:
        return "_no inventory assets created in this run_"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += [
        "| " + " | ".join("" if row[c] is None else str(row[c]) for c in columns) + " |"
        for row in rows
    ]
    return "\n".join(lines)
