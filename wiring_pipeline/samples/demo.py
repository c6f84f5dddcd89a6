"""The demo world: two client accounts with two engagements each, their CMDB exports, and
the broken legacy state the source plan describes, written directly as legacy rows.

Every legacy defect is created on purpose and counted as it is created, so the demo's
manifest says exactly what the wiring health of each partition must show at baseline.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, delete, select, update

from wiring_pipeline.domain.core.schema import (
    asset_conflicts,
    asset_reconciliations,
    asset_sources,
    assets,
    backfill_audit,
    backfill_runs,
    cleansed_record_archive,
    client_accounts,
    data_imports,
    discovery_flows,
    engagements,
    import_rejected_rows,
    match_candidates,
    raw_import_records,
    wiring_health_snapshots,
)
from wiring_pipeline.domain.core.tenancy import TenantScope
from wiring_pipeline.domain.ingest.flows import add_flow
from wiring_pipeline.domain.ingest.registry import add_tenant, register_import
from wiring_pipeline.samples import cmdb_generator as gen
from wiring_pipeline.samples.broken_rows import PartitionRows, add_loaded_import

DEMO_SEED = 20261126
#: The flow id that the legacy application reused across tenants: a backfill that
#: matched flows by `flow_id` alone would link another tenant's flow.
SHARED_LEGACY_FLOW_ID = uuid.UUID("5e1f0a7e-0000-4000-8000-00000000f10e")


@dataclass(frozen=True)
class LegacyDefects:
    """How many of each broken legacy row to write into a partition."""

    flow_assets_missing_link: int
    manual_assets: int = 2
    raw_records_with_deleted_asset: int = 2
    raw_records_with_foreign_asset: int = 1
    assets_with_missing_raw_record: int = 2
    assets_with_foreign_flow: int = 1
    assets_linked_one_way: int = 2
    raw_records_linked_one_way: int = 2
    unprocessed_raw_records: int = 4

    def expected_metrics(self) -> dict[str, int]:
        """The baseline wiring health these rows produce, before any import is loaded."""
        return {
            "flow_based_assets_missing_discovery_flow_id": self.flow_assets_missing_link,
            "all_assets_missing_discovery_flow_id": self.flow_assets_missing_link
            + self.manual_assets,
            "assets_with_orphan_raw_import_ref": self.assets_with_missing_raw_record,
            "raw_records_with_orphan_asset_ref": self.raw_records_with_deleted_asset
            + self.raw_records_with_foreign_asset,
            # A record that only its asset points at was never marked processed either.
            "unprocessed_raw_records": self.unprocessed_raw_records + self.assets_linked_one_way,
            "assets_with_orphan_flow_ref": self.assets_with_foreign_flow,
            "asymmetric_links": self.assets_linked_one_way + self.raw_records_linked_one_way,
            # No import is loaded yet: no source row can have missed the inventory.
            "source_rows_not_in_inventory": 0,
            # Legacy rows predate re-imports: no record names a successor.
            "raw_records_with_orphan_superseded_by": 0,
            # ... and reconciliation across sources: no source row, nothing to review.
            "asset_sources_with_orphan_source_asset_ref": 0,
            "asset_sources_with_orphan_source_flow_ref": 0,
            "asset_sources_with_orphan_source_raw_import_ref": 0,
            "open_match_candidates": 0,
            "asset_field_conflicts": 0,
            # ... and the retirement guard: no import is loaded yet.
            "retirements_held": 0,
        }


@dataclass(frozen=True)
class DemoPartition:
    key: str
    client_name: str
    engagement_name: str
    file_format: str  # csv, csv-semicolon, jsonl, xlsx
    rows: int
    legacy: LegacyDefects
    flow_id: uuid.UUID | None = None


DEMO_PARTITIONS: tuple[DemoPartition, ...] = (
    DemoPartition(
        "acme.dc-exit",
        "Acme Corp",
        "Frankfurt data centre exit",
        "csv",
        400,
        LegacyDefects(flow_assets_missing_link=29),
        flow_id=SHARED_LEGACY_FLOW_ID,
    ),
    DemoPartition(
        "acme.cloud-wave1",
        "Acme Corp",
        "Cloud migration wave 1",
        "csv-semicolon",
        250,
        LegacyDefects(flow_assets_missing_link=6),
    ),
    DemoPartition(
        "globex.erp-move",
        "Globex",
        "ERP platform move",
        "jsonl",
        300,
        LegacyDefects(flow_assets_missing_link=5),
        flow_id=SHARED_LEGACY_FLOW_ID,
    ),
    DemoPartition(
        "globex.dr-site",
        "Globex",
        "Disaster recovery site",
        "xlsx",
        200,
        LegacyDefects(flow_assets_missing_link=4),
    ),
)

DEMO_CLIENT_SLUGS = sorted({p.key.split(".")[0] for p in DEMO_PARTITIONS})


@dataclass
class SeededPartition:
    scope: TenantScope
    flow: dict
    data_import: dict
    source_rows: int
    expected_baseline: dict[str, int]
    legacy_rows: dict[str, int] = field(default_factory=dict)


def _with_multiline_descriptions(rows: Iterator[dict[str, str]]) -> Iterator[dict[str, str]]:
    """Every 25th description spans two lines, as free-text CMDB fields often do."""
    for index, row in enumerate(rows):
        if index % 25 == 7:
            row["Description"] = f"{row['Description']}\nMigrated from legacy CMDB; see ticket"
        yield row


def write_demo_file(partition: DemoPartition, directory: Path, seed: int) -> tuple[Path, int]:
    """Write the partition's CMDB export in its format; returns the path and row count."""
    rows = gen.iter_cmdb_rows(seed, partition.rows, prefix=partition.key.split(".")[1][:3])
    slug = partition.key.replace(".", "_")
    if partition.file_format == "csv":
        path = directory / f"{slug}_cmdb_export.csv"
        return path, gen.write_csv(path, rows, bom=True)
    if partition.file_format == "csv-semicolon":
        path = directory / f"{slug}_cmdb_export.csv"
        return path, gen.write_csv(path, _with_multiline_descriptions(rows), delimiter=";")
    if partition.file_format == "jsonl":
        path = directory / f"{slug}_cmdb_export.jsonl"
        return path, gen.write_jsonl(path, rows)
    path = directory / f"{slug}_cmdb_export.xlsx"
    return path, gen.write_xlsx(path, rows)


#: The partition whose week-2 export the demo imports (DESIGN 3a), and how it differs from
#: week 1: one server in 40 changed, one in 80 decommissioned, one in 80 new.
WEEK_TWO_PARTITION = 0
WEEK_TWO_CHANGES = {"changed_every": 40, "gone_every": 80, "new_every": 80}


def write_week_two_file(directory: Path) -> Path:
    """Next week's export of the week-two partition: the same estate, a week later."""
    partition = DEMO_PARTITIONS[WEEK_TWO_PARTITION]
    week_one = gen.iter_cmdb_rows(
        DEMO_SEED + WEEK_TWO_PARTITION, partition.rows, prefix=partition.key.split(".")[1][:3]
    )
    path = directory / f"{partition.key.replace('.', '_')}_cmdb_export_week2.csv"
    gen.write_csv(path, gen.iter_next_export(week_one, **WEEK_TWO_CHANGES), bom=True)
    return path


#: The second source of the week-two partition (DESIGN 3e): RVTools' vInfo as a CSV, the
#: hypervisor's view of most of the CMDB's servers (VM names upper-case, DNS names in full)
#: plus VMs the CMDB has never heard of.
RVTOOLS_COLUMNS = (
    "VM", "Powerstate", "CPUs", "Memory", "DNS Name", "Primary IP Address", "VM UUID",
    "OS according to the VMware Tools",
)  # fmt: skip
#: Every n-th CMDB server the hypervisor does not run (physical, or gone), and how many VMs
#: only the hypervisor knows.
RVTOOLS_MISSING_EVERY = 4
RVTOOLS_ONLY = 12


def write_rvtools_file(directory: Path, servers: list[dict]) -> Path:
    """An RVTools vInfo export of the week-two partition's servers (name, hostname, IP,
    CPUs, memory in GB, as the inventory holds them): one in RVTOOLS_MISSING_EVERY left out,
    memory in MiB, and the first server's memory as the hypervisor really has it (double
    the CMDB's): the conflict the demo shows."""
    path = directory / "acme_dc-exit_rvtools_vinfo.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(RVTOOLS_COLUMNS)
        kept = [s for n, s in enumerate(servers) if n % RVTOOLS_MISSING_EVERY != 1]
        for n, server in enumerate(kept):
            memory_gib = float(server["memory_gb"] or 4) * (2 if n == 0 else 1)
            writer.writerow(
                [
                    server["name"].split(".")[0].upper(),
                    "poweredOn",
                    server["cpu_cores"] or 2,
                    int(memory_gib * 1024),
                    (server["hostname"] or "").lower(),
                    server["ip_address"] or "",
                    str(uuid.uuid5(uuid.NAMESPACE_DNS, server["name"])),
                    server["operating_system"] or "",
                ]
            )
        for n in range(1, RVTOOLS_ONLY + 1):
            writer.writerow(
                [
                    f"VDI-{n:03d}",
                    "poweredOff",
                    2,
                    8192,
                    "",
                    "",
                    str(uuid.uuid5(uuid.NAMESPACE_DNS, f"vdi{n}")),
                    "Windows 11",
                ]
            )
    return path


def remove_demo_tenants(conn: Connection) -> int:
    """Delete every row of the demo client accounts, so the demo can be seeded afresh."""
    client_ids = list(
        conn.execute(
            select(client_accounts.c.id).where(client_accounts.c.slug.in_(DEMO_CLIENT_SLUGS))
        ).scalars()
    )
    if not client_ids:
        return 0
    # Unlink first: once the foreign keys exist, assets and raw records reference each other.
    conn.execute(
        update(assets)
        .where(assets.c.client_account_id.in_(client_ids))
        .values(raw_import_records_id=None)
    )
    for table in (
        asset_reconciliations,
        asset_conflicts,
        match_candidates,
        asset_sources,
        backfill_audit,
        backfill_runs,
        wiring_health_snapshots,
        cleansed_record_archive,
        import_rejected_rows,
        raw_import_records,
        assets,
        data_imports,
        discovery_flows,
        engagements,
    ):
        conn.execute(delete(table).where(table.c.client_account_id.in_(client_ids)))
    conn.execute(delete(client_accounts).where(client_accounts.c.id.in_(client_ids)))
    return len(client_ids)


def seed_demo(conn: Connection, files_dir: Path, imports_root: Path) -> list[SeededPartition]:
    """Create the demo tenants, flows, pending imports and legacy rows; return the manifest."""
    files_dir.mkdir(parents=True, exist_ok=True)
    seeded: list[SeededPartition] = []
    for index, partition in enumerate(DEMO_PARTITIONS):
        client_slug = partition.key.split(".")[0]
        scope, _ = add_tenant(conn, partition.key, partition.client_name, partition.engagement_name)
        flow = add_flow(
            conn,
            scope,
            gen.CMDB_FIELD_MAPPINGS,
            flow_name=f"{client_slug} CMDB discovery",
            flow_id=partition.flow_id,
        )
        path, count = write_demo_file(partition, files_dir, DEMO_SEED + index)
        data_import = register_import(
            conn,
            scope,
            flow,
            path,
            imports_root,
            sheet_name="CMDB Export" if partition.file_format == "xlsx" else None,
        )
        seeded.append(
            SeededPartition(scope, flow, data_import, count, partition.legacy.expected_metrics())
        )
    for index, item in enumerate(seeded):
        neighbour = seeded[(index + 1) % len(seeded)]
        item.legacy_rows = _write_legacy_rows(
            conn, item, DEMO_PARTITIONS[index].legacy, neighbour, DEMO_SEED + 100 + index
        )
    # Second pass, once every partition has assets: raw records naming a neighbour's asset
    # (another engagement of the same client, or another client altogether).
    for index, item in enumerate(seeded):
        neighbour = seeded[(index + 1) % len(seeded)]
        _write_foreign_asset_refs(conn, item, DEMO_PARTITIONS[index].legacy, neighbour)
        item.legacy_rows["raw_import_records"] += DEMO_PARTITIONS[
            index
        ].legacy.raw_records_with_foreign_asset
    return seeded


def _legacy_rows(item: SeededPartition, data_import_id, source) -> PartitionRows:
    """The builder of a partition's legacy rows: production servers of the partition's flow."""
    return PartitionRows(
        item.scope,
        {"main": item.flow},
        data_import_id,
        asset_defaults={"environment": "Production", "custom_attributes": {"legacy": True}},
        raw_source=source,
        processed_summary=None,
        processed_note="Linked to: (legacy)",
    )


def _write_foreign_asset_refs(
    conn: Connection, item: SeededPartition, defects: LegacyDefects, neighbour: SeededPartition
) -> None:
    foreign_asset = conn.execute(
        select(assets.c.id)
        .where(*neighbour.scope.where(assets), assets.c.discovery_method == "manual")
        .order_by(assets.c.name)
        .limit(1)
    ).scalar_one()
    legacy_import = conn.execute(
        select(data_imports.c.id).where(
            *item.scope.where(data_imports), data_imports.c.stored_path.is_(None)
        )
    ).scalar_one()
    source = gen.iter_cmdb_rows(DEMO_SEED + 500, defects.raw_records_with_foreign_asset, "xref")
    rows = _legacy_rows(item, legacy_import, source)
    for n in range(defects.raw_records_with_foreign_asset):
        rows.raw(row_number=9_000 + n, asset_id=foreign_asset)
    rows.flush(conn)


def _write_legacy_rows(
    conn: Connection,
    item: SeededPartition,
    defects: LegacyDefects,
    neighbour: SeededPartition,
    seed: int,
) -> dict[str, int]:
    """Write the partition's broken legacy rows, each kind exactly as many times as asked."""
    scope, flow = item.scope, item.flow
    legacy_import = add_loaded_import(
        conn,
        scope,
        flow,
        import_name="legacy CMDB export (pre-pipeline)",
        filename="legacy_cmdb_export.csv",
    )
    rows = _legacy_rows(item, legacy_import, gen.iter_cmdb_rows(seed, 10_000, prefix="legacy"))
    prefix = scope.engagement_slug
    no_flow = {"discovery_flow_id": None, "master_flow_id": None}

    for n in range(defects.flow_assets_missing_link):
        rows.asset(f"{prefix}-legacy-srv-{n:02d}", flow_id=flow["flow_id"], **no_flow)
    for n in range(defects.manual_assets):
        rows.asset(
            f"{prefix}-manual-{n:02d}",
            discovery_method="manual",
            discovery_source="Manual entry",
            **no_flow,
        )
    for _ in range(defects.raw_records_with_deleted_asset):
        rows.raw(asset_id=uuid.uuid4())
    for n in range(defects.assets_with_missing_raw_record):
        rows.asset(f"{prefix}-lost-raw-{n:02d}", raw_import_records_id=uuid.uuid4())
    for n in range(defects.assets_with_foreign_flow):
        rows.asset(
            f"{prefix}-foreign-flow-{n:02d}",
            flow_id=flow["flow_id"],
            discovery_flow_id=neighbour.flow["id"],
            master_flow_id=neighbour.flow["master_flow_id"],
        )
    for n in range(defects.assets_linked_one_way):
        record = rows.raw(processed=False)
        rows.asset(f"{prefix}-one-way-{n:02d}", raw_import_records_id=record)
    for n in range(defects.raw_records_linked_one_way):
        rows.raw(asset_id=rows.asset(f"{prefix}-back-link-{n:02d}"))
    for _ in range(defects.unprocessed_raw_records):
        rows.raw(processed=False)

    written = {"assets": len(rows.assets), "raw_import_records": len(rows.raws)}
    rows.flush(conn)
    conn.execute(
        update(data_imports)
        .where(*scope.where(data_imports), data_imports.c.id == legacy_import)
        .values(
            total_records=written["raw_import_records"],
            loaded_rows=written["raw_import_records"],
            rejected_rows=0,
        )
    )
    return written
