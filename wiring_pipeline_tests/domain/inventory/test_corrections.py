"""A person's merge and split of assets: wired, audited, and undone exactly (DESIGN 3e)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.domain.core.schema import metadata
from wiring_pipeline.domain.inventory.corrections import (
    CorrectionError,
    merge_assets,
    split_asset,
    undo_correction,
)
from wiring_pipeline_tests.domain.inventory.test_reconcile import (
    KEY,
    assets,
    cmdb_row,
    errors,
    two_sources,  # noqa: F401 - the fixture
    vm_row,
)
from wiring_pipeline_tests.support.pipeline_helpers import dump_tables

#: Everything but the corrections' own audit, which an undo marks rather than erases.
TABLES = [t.name for t in metadata.sorted_tables if t.name != "asset_reconciliations"]


def correct(engine, action, *args):
    with partition_transaction(engine, KEY) as work:
        return action(work.conn, work.scope, *args)


@pytest.fixture()
def loaded(engine, two_sources):  # noqa: F811 - the fixture above
    scope, cmdb, vms, load = two_sources
    load(cmdb, "cmdb.csv", [
        cmdb_row("web01", host="web01.a.example", serial="VMware-42 1a", memory="8"),
        cmdb_row("db01", host="db01.a.example", ip="10.0.0.5"),
    ])  # fmt: skip
    load(vms, "vms.csv", [
        vm_row("clone-of-web01", dns="clone.a.example", serial="VMWARE-421A"),
        vm_row("db01", dns="db01.a.example", ip="10.0.0.5", memory_mib="4096"),
    ])  # fmt: skip
    return scope, cmdb, vms, load


def test_merging_a_candidate_makes_one_asset_and_undo_puts_everything_back(engine, loaded):
    scope, cmdb, vms, load = loaded
    found = assets(engine, scope)
    before = dump_tables(engine, TABLES)

    merged = correct(engine, merge_assets, found["web01"].id, found["clone-of-web01"].id)

    after = assets(engine, scope)
    assert "clone-of-web01" not in after and after["web01"].matched == ["new", "merge"]
    assert merged["sources_moved"] == 1 and merged["records_relinked"] == 1
    assert float(after["web01"].memory_gb) == 16  # the hypervisor's memory wins, as matched
    assert errors(engine, scope) == {}
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM migration.match_candidates")).scalars()
        assert list(status) == []  # the candidate named the merged asset: decided, gone

    correct(engine, undo_correction, merged["id"])
    assert dump_tables(engine, TABLES) == before
    with pytest.raises(CorrectionError, match="was undone"):
        correct(engine, undo_correction, merged["id"])


def test_splitting_a_wrong_match_keeps_it_apart_and_undo_joins_it_again(engine, loaded):
    scope, cmdb, vms, load = loaded
    shared = assets(engine, scope)["db01"]
    assert shared.matched == ["new", "fqdn"]

    split = correct(engine, split_asset, shared.id, vms["id"])

    with engine.connect() as conn:
        named = conn.execute(text("SELECT count(*) FROM migration.assets WHERE name = 'db01'"))
        assert named.scalar() == 2
        new = conn.execute(
            text("SELECT * FROM migration.assets WHERE id = :id"), {"id": split["new_asset"]}
        ).one()
        old = conn.execute(
            text("SELECT * FROM migration.assets WHERE id = :id"), {"id": shared.id}
        ).one()
    assert (float(new.memory_gb), new.discovery_flow_id) == (4, vms["id"])
    assert (float(old.memory_gb), old.discovery_flow_id, old.field_sources) == (
        16,
        cmdb["id"],
        {},
    )
    assert errors(engine, scope) == {}
    # The next run of either source keeps them apart: the split record has its source row.
    load(vms, "vms-2.csv", [vm_row("clone-of-web01", dns="clone.a.example",
                                   serial="VMWARE-421A"),
                            vm_row("db01", dns="db01.a.example", ip="10.0.0.5",
                                   memory_mib="4096"), vm_row("vm3")])  # fmt: skip
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM migration.assets")).scalar() == 5

    with pytest.raises(CorrectionError, match="changed since"):
        correct(engine, undo_correction, split["id"])


def test_undo_of_a_split_right_away_is_exact(engine, loaded):
    scope, cmdb, vms, load = loaded
    shared = assets(engine, scope)["db01"]
    before = dump_tables(engine, TABLES)
    split = correct(engine, split_asset, shared.id, vms["id"])
    correct(engine, undo_correction, split["id"])
    assert dump_tables(engine, TABLES) == before


def test_nonsense_corrections_are_refused_in_one_line(engine, loaded):
    scope, cmdb, vms, load = loaded
    found = assets(engine, scope)
    with pytest.raises(CorrectionError, match="both have a record of flow"):
        correct(engine, merge_assets, found["web01"].id, found["db01"].id)
    with pytest.raises(CorrectionError, match="one source only"):
        correct(engine, split_asset, found["web01"].id, cmdb["id"])
    with pytest.raises(CorrectionError, match="no record of flow"):
        correct(engine, split_asset, found["web01"].id, vms["id"])
    with pytest.raises(CorrectionError, match="has no merge or split"):
        correct(engine, undo_correction, 999)
