"""`wiring-pipeline demo` tells the source plan's story and checks its own ending."""

from __future__ import annotations

import json

from click.testing import CliRunner

from wiring_pipeline.cli.main import cli
from wiring_pipeline.db import engines
from wiring_pipeline.samples.demo import (
    DEMO_PARTITIONS,
    RVTOOLS_MISSING_EVERY,
    RVTOOLS_ONLY,
    WEEK_TWO_PARTITION,
)


def test_demo_from_broken_legacy_to_healthy_and_enforced(fresh_database, monkeypatch):
    url = fresh_database()
    monkeypatch.setenv("WIRING_DATABASE_URL", url)
    result = CliRunner().invoke(cli, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)

    incomplete = 0
    for partition in DEMO_PARTITIONS:
        baseline = report["baseline_health"][partition.key]
        assert baseline["health"]["metrics"] == partition.legacy.expected_metrics()
        assert baseline["run_succeeded"] is False  # blocking checks fail on legacy defects

        final = report["final_health"][partition.key]
        assert final["run_succeeded"] is True
        assert final["health"]["health_status"] == "healthy"
        # Only the manual assets remain without a flow: a warning, not an error.
        metrics = dict(final["health"]["metrics"])
        assert metrics.pop("all_assets_missing_discovery_flow_id") == partition.legacy.manual_assets
        # The messy export's bad rows never reach the inventory: said, not hidden, and
        # neither the backfill nor the re-processing changes that count.
        after_pipeline = report["after_pipeline"][partition.key]["health"]["metrics"]
        missing = metrics.pop("source_rows_not_in_inventory")
        assert missing == after_pipeline["source_rows_not_in_inventory"]
        incomplete += missing
        # The one disagreement the second source brings (the demo prints it).
        second_source = partition.key == DEMO_PARTITIONS[WEEK_TWO_PARTITION].key
        assert metrics.pop("asset_field_conflicts") == (1 if second_source else 0)
        assert sum(metrics.values()) == 0

        legacy = partition.legacy
        dry_run = report["backfill_dry_run"][partition.key]
        assert dry_run["repairs"] == {
            "clear_orphan_flow_ref": legacy.assets_with_foreign_flow,
            "clear_orphan_raw_import_ref": legacy.assets_with_missing_raw_record,
            "clear_orphan_asset_ref": legacy.raw_records_with_deleted_asset
            + legacy.raw_records_with_foreign_asset,
            # Cleared foreign-flow assets carry their own partition's legacy flow_id.
            "relink_flow_ref": legacy.flow_assets_missing_link + legacy.assets_with_foreign_flow,
            "complete_raw_import_ref": legacy.raw_records_linked_one_way,
            "complete_asset_ref": legacy.assets_linked_one_way,
            "clear_orphan_superseded_by": 0,
        }
        assert report["backfill"][partition.key]["repairs"] == dry_run["repairs"]

    assert incomplete > 0  # the messy exports do have rows that cannot load
    assert set(report["constraints"]["states"].values()) == {"validated"}
    week_two = report["week_two"]
    assert week_two["run_succeeded"] is True
    assert week_two["week_one_again"]["duplicate_of"] == report["seeded"][0]["import_id"]
    changes = week_two["changes"]
    assert min(changes[kind] for kind in ("created", "updated", "unchanged", "retired")) > 0
    assert "week 2 of acme.dc-exit" in result.stderr

    second = report["second_source"]
    assert second["run_succeeded"] is True
    seen = {tuple(c["sources"]): c["assets"] for c in second["coverage"]["combinations"]}
    cmdb = DEMO_PARTITIONS[WEEK_TWO_PARTITION].key.split(".")[0] + " CMDB discovery"
    servers = sum(n for sources, n in seen.items() if cmdb in sources)
    # One CMDB server in RVTOOLS_MISSING_EVERY has no VM; RVTOOLS_ONLY VMs have no CMDB entry.
    assert seen[("rvtools",)] == RVTOOLS_ONLY
    assert seen[(cmdb,)] == len(range(1, servers, RVTOOLS_MISSING_EVERY))
    assert second["changes"]["matched"] == seen[(cmdb, "rvtools")]
    [conflict] = second["conflicts"]
    assert conflict["field"] == "memory_gb"
    assert conflict["chosen"]["source"] == "rvtools"  # the hypervisor knows the memory
    assert "conflict on" in result.stderr and "one asset per machine" in result.stderr
    engines.get_engine(url).dispose()
