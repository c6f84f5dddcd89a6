"""The listing carries each asset's sources (DESIGN 3e): every flow that describes it, in
precedence order, how its record joined, and whether that source still has it; read in one
query per page, whatever the page's size.

`reconciled_partition` builds the two-source partition the API and CLI tests read too."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, event, text

from wiring_pipeline.domain.core.tenancy import TenantScope
from wiring_pipeline.domain.inventory.listing import list_inventory_assets
from wiring_pipeline_tests.domain.inventory.test_reconcile import (
    CMDB,
    RVTOOLS_SPEC,
    cmdb_row,
    vm_row,
)
from wiring_pipeline_tests.support.csv_rows import write_csv_rows
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.pipeline_helpers import register, run_stages

KEY = "acme.listing"
#: What `reconciled_partition` makes of its two sources.
ASSET_NAMES = ["D-CUSTOM-01.USFQ.EDU.EC", "PHYS-01", "web01-a", "vm-only", "clone-of-web01"]
SHARED = "D-CUSTOM-01.USFQ.EDU.EC"
#: The hypervisor's constants (type, environment) are defaults, so only the memory differs.
CONFLICTING_FIELDS = ["memory_gb"]


@dataclass
class Reconciled:
    scope: TenantScope
    cmdb: dict
    rvtools: dict
    prefix: str

    def name(self, name: str) -> str:
        return self.prefix + name

    def load(self, engine: Engine, tmp_path: Path, flow: dict, file: str, rows: list[dict]):
        """One more export of `flow`, run through the three stages."""
        register(engine, self.scope, flow, write_csv_rows(tmp_path / file, rows))
        return run_stages(engine, self.scope.partition_key)[2]


def reconciled_partition(engine: Engine, tmp_path: Path, key: str, prefix: str = "") -> Reconciled:
    """A CMDB (first, so primary) and an RVTools export of one engagement, `prefix` before
    every machine's name: one server both describe (joined on its IP, disagreeing on its
    memory), one of each alone, and a clone that shares a CMDB server's
    serial but not its name (a match candidate, not a merge)."""
    scope = make_tenant(engine, key)
    cmdb = make_flow(engine, scope, mappings=CMDB, flow_name="cmdb", identity_key=["Name"])
    rvtools = make_flow(engine, scope, mappings=RVTOOLS_SPEC, flow_name="rvtools")
    made = Reconciled(scope, cmdb, rvtools, prefix)
    p = prefix.lower()
    made.load(engine, tmp_path, cmdb, f"{key}-cmdb.csv", [
        cmdb_row(f"{prefix}D-CUSTOM-01.USFQ.EDU.EC", host=f"{prefix}D-CUSTOM-01.USFQ.EDU.EC",
                 ip="172.21.79.3"),
        cmdb_row(f"{prefix}PHYS-01", host=f"{p}phys-01.usfq.edu.ec", ip="172.21.1.1"),
        cmdb_row(f"{prefix}web01-a", host=f"{p}web01.a.example", serial="VMware-42 1a"),
    ])  # fmt: skip
    result = made.load(engine, tmp_path, rvtools, f"{key}-rvtools.csv", [
        vm_row(f"{prefix}D-CUSTOM-01", ip="172.21.79.3", memory_mib="12288"),
        vm_row(f"{prefix}vm-only", dns=f"{p}vm-only.usfq.edu.ec", ip="172.21.79.9"),
        vm_row(f"{prefix}clone-of-web01", dns=f"{p}clone.a.example", serial="VMWARE-421A"),
    ])  # fmt: skip
    assert (result.changes["matched"], result.changes["created"]) == (1, 2)
    return made


def _listed(engine: Engine, scope: TenantScope, **options) -> dict[str, dict]:
    with engine.connect() as conn:
        page = list_inventory_assets(conn, scope, **options)
    return {item["name"]: item for item in page.items}


def test_each_asset_lists_its_sources_in_precedence_order(engine, tmp_path):
    made = reconciled_partition(engine, tmp_path, KEY)
    listed = _listed(engine, made.scope)
    assert sorted(listed) == sorted(ASSET_NAMES)
    with engine.connect() as conn:
        records = dict(
            conn.execute(
                text(
                    "SELECT coalesce(raw_data->>'Name', raw_data->>'VM'), id::text"
                    " FROM migration.raw_import_records"
                    " WHERE client_account_id = :client_account_id"
                    " AND engagement_id = :engagement_id"
                ),
                made.scope.as_params(),
            ).all()
        )
    shared = listed[SHARED]["sources"]
    assert shared == [
        {
            "flow": "cmdb",
            "flow_id": str(made.cmdb["id"]),
            "matched_on": "new",
            "current": True,
            "raw_import_record_id": records[SHARED],
        },
        {
            "flow": "rvtools",
            "flow_id": str(made.rvtools["id"]),
            "matched_on": "ip_address",
            "current": True,
            "raw_import_record_id": records["D-CUSTOM-01"],
        },
    ]
    assert listed[SHARED]["raw_import_records_id"] == records[SHARED]  # the primary's record
    for alone, flow in (("PHYS-01", "cmdb"), ("vm-only", "rvtools"), ("clone-of-web01", "rvtools")):
        assert [(s["flow"], s["matched_on"]) for s in listed[alone]["sources"]] == [(flow, "new")]


def test_precedence_not_age_orders_the_sources_and_a_dropped_source_is_not_current(
    engine, tmp_path
):
    made = reconciled_partition(engine, tmp_path, KEY)
    with engine.begin() as conn:  # what `flow add --precedence 0` gives the hypervisor
        conn.execute(
            text("UPDATE migration.discovery_flows SET precedence = 0 WHERE id = :id"),
            {"id": made.rvtools["id"]},
        )
    made.load(engine, tmp_path, made.rvtools, "week2.csv", [vm_row("vm-only"), vm_row("x")])
    shared = _listed(engine, made.scope)[SHARED]["sources"]
    assert [(s["flow"], s["current"]) for s in shared] == [("rvtools", False), ("cmdb", True)]


def test_one_query_reads_the_sources_of_a_whole_page(engine, tmp_path):
    made = reconciled_partition(engine, tmp_path, KEY)
    statements: list[str] = []

    def note(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        # (page, page size) -> the statements: the count, the page, and the page's sources;
        # past the last page, the count alone.
        for page, size, expected in ((1, 1, 3), (1, 5, 3), (9, 5, 1)):
            statements.clear()
            with engine.connect() as conn:
                listed = list_inventory_assets(conn, made.scope, page=page, page_size=size)
            assert len(listed.items) == (size if page == 1 else 0)
            assert len(statements) == expected, statements
            assert ("asset_sources" in statements[-1]) == (expected == 3)
    finally:
        event.remove(engine, "before_cursor_execute", note)
