"""The inventory pipeline of one tenant engagement: files → raw records → cleansed → inventory.

Each Dagster asset is one unit of work: it opens the partition's transaction, calls the
domain, and returns metadata only (the database is the state, nothing goes through an IO
manager). A step that fails rolls back everything it did.
"""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from wiring_pipeline.db.import_loading import load_pending_imports
from wiring_pipeline.defs.metadata import catalog_metadata, row_count, rows_table
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.cleansing.records import cleanse_open_records
from wiring_pipeline.domain.core.schema import assets, cleansed_record_archive
from wiring_pipeline.domain.core.schema import raw_import_records as raw_import_records_table
from wiring_pipeline.domain.core.tenancy import count_rows
from wiring_pipeline.domain.inventory.build import (
    PREVIEW_COLUMNS,
    InventoryResult,
    build_inventory,
    changes_line,
)
from wiring_pipeline.domain.inventory.reconciliation_report import coverage, coverage_table
from wiring_pipeline.resources import WiringDatabase

GROUP = "discovery"


@asset(
    partitions_def=tenant_engagements,
    group_name=GROUP,
    kinds={"postgres"},
    metadata=catalog_metadata(raw_import_records_table),
)
def raw_import_records(
    context: AssetExecutionContext, wiring_db: WiringDatabase
) -> MaterializeResult:
    """Every pending import file of the partition, loaded row by row (bad rows kept aside)."""
    with wiring_db.unit_of_work(context.partition_key) as work:
        results = load_pending_imports(
            work.conn,
            work.scope,
            lambda name, rows: context.log.info(f"{name}: {rows:,} rows read"),
        )
        rows = count_rows(work.conn, work.scope, raw_import_records_table)
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
            "imports": rows_table(
                [r.as_json() for r in results],
                ["filename", "status", "loaded_rows", "rejected_rows", "error"],
            ),
            "failed_imports": MetadataValue.json([r.as_json() for r in failed]),
            **row_count(rows),
        }
    )


@asset(
    partitions_def=tenant_engagements,
    group_name=GROUP,
    kinds={"postgres"},
    deps=[raw_import_records],
    metadata=catalog_metadata(cleansed_record_archive),
)
def cleansed_import_records(
    context: AssetExecutionContext, wiring_db: WiringDatabase
) -> MaterializeResult:
    """The flow's field mappings applied; records missing a critical field are rejected."""
    with wiring_db.unit_of_work(context.partition_key) as work:
        result = cleanse_open_records(work.conn, work.scope)
        rows = count_rows(work.conn, work.scope, cleansed_record_archive)
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
            "invalid_values": MetadataValue.json(result.invalid_values),
            **row_count(rows),
        }
    )


@asset(
    partitions_def=tenant_engagements,
    group_name=GROUP,
    kinds={"postgres"},
    deps=[cleansed_import_records],
    metadata=catalog_metadata(assets),
)
def asset_inventory(context: AssetExecutionContext, wiring_db: WiringDatabase) -> MaterializeResult:
    """Inventory assets created, matched across sources or updated in place and their raw
    records linked back, in one transaction; a full export retires what it no longer lists.
    The coverage table says which sources describe how many machines (DESIGN 3e)."""
    with wiring_db.unit_of_work(context.partition_key) as work:
        result = build_inventory(work.conn, work.scope)
        rows = count_rows(work.conn, work.scope, assets)
        sources = coverage(work.conn, work.scope)
    context.log.info(f"{context.partition_key}: {changes_line(result.changes)}")
    return MaterializeResult(
        metadata={
            **inventory_metadata(result),
            **row_count(rows),
            "coverage": MetadataValue.md(coverage_table(sources)),
        }
    )


def inventory_metadata(result: InventoryResult) -> dict:
    return {
        **{kind: MetadataValue.int(count) for kind, count in result.changes.items()},
        "linked": MetadataValue.int(result.linked),
        "superseded": MetadataValue.int(result.superseded),
        "late_records": MetadataValue.int(result.late_records),
        "change_samples": MetadataValue.json(result.samples),
        "report": MetadataValue.json(result.report()),
        "rejected": MetadataValue.int(result.rejected),
        "skipped_legacy_linked": MetadataValue.int(result.skipped_legacy_linked),
        "skipped_uncleansed": MetadataValue.int(result.skipped_uncleansed),
        "created_by_type": MetadataValue.json(result.by_type),
        "created_by_environment": MetadataValue.json(result.by_environment),
        "preview": rows_table(result.preview, PREVIEW_COLUMNS),
    }
