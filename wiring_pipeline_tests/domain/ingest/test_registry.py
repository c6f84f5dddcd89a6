"""Tenants, flows and imports as the CLI registers them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.domain.contract.fields import FieldMappingError
from wiring_pipeline.domain.core.schema import data_imports
from wiring_pipeline.domain.core.tenancy import TenancyError
from wiring_pipeline.domain.ingest import flows, registry
from wiring_pipeline_tests.support.factories import make_flow, make_tenant


def test_add_tenant_is_repeatable(engine):
    with engine.begin() as conn:
        first, created = registry.add_tenant(conn, "acme.dc-exit", "Acme Corp")
        assert created
        again, created_again = registry.add_tenant(conn, "acme.dc-exit")
        assert not created_again
        assert again == first
        other, _ = registry.add_tenant(conn, "acme.cloud-wave1")
        assert other.client_account_id == first.client_account_id
        assert other.engagement_id != first.engagement_id


@pytest.mark.parametrize(
    ("mappings", "message"),
    [
        ({"Host": "hostnme"}, "unknown target field.*'Host' -> 'hostnme'"),
        ({}, "non-empty JSON object"),
        (["name"], "non-empty JSON object"),
        ({"A": 3}, "unknown target field"),
        ({"A": {"field": "memory_gb", "unit": "pages"}}, "unknown unit 'pages'"),
        ({"A": {"field": "cpu_cores", "unit": "MiB"}}, "cpu_cores has no unit"),
        ({"mappings": {"A": "name"}, "records_path": "a..b"}, "is not a path"),
    ],
)
def test_flow_mappings_are_validated(engine, mappings, message):
    scope = make_tenant(engine, "acme.dc-exit")
    with pytest.raises(FieldMappingError, match=message):
        make_flow(engine, scope, mappings=mappings)


def test_find_flow_by_flow_id_id_or_name_within_the_partition(engine):
    scope = make_tenant(engine, "acme.dc-exit")
    other = make_tenant(engine, "globex.erp-move")
    flow = make_flow(engine, scope, flow_name="cmdb")
    foreign = make_flow(engine, other, flow_name="cmdb")
    with engine.begin() as conn:
        for ref in (str(flow["flow_id"]), str(flow["id"]), "cmdb"):
            assert flows.find_flow(conn, scope, ref)["id"] == flow["id"]
        with pytest.raises(flows.FlowError, match="has no discovery flow"):
            flows.find_flow(conn, scope, str(foreign["flow_id"]))


def test_register_import_keeps_a_copy(engine, tmp_path):
    scope = make_tenant(engine, "acme.dc-exit")
    flow = make_flow(
        engine,
        scope,
        mappings={"Asset Name": "name", "CI Class": "asset_type"},
        sets=["environment=production"],
    )
    source = tmp_path / "export.csv"
    source.write_text("Asset Name,CI Class\nsrv1,Server\n", encoding="utf-8")
    with partition_transaction(engine, "acme.dc-exit") as work:
        row = registry.register_import(work.conn, work.scope, flow, source, tmp_path / "store")
    source.unlink()  # the user moves the original away: nothing is lost
    stored = tmp_path / "store" / "acme" / "dc-exit" / f"{row['id']}.csv"
    assert stored.read_text(encoding="utf-8").startswith("Asset Name")
    assert row["status"] == "pending" and row["file_format"] == "csv"
    with engine.connect() as conn:
        assert conn.execute(select(data_imports.c.stored_path)).scalar_one() == str(stored)


def test_register_import_reads_the_file_once_and_checks_the_copy_it_stores(
    engine, tmp_path, monkeypatch
):
    """The file is copied once, hashed as it is copied, and every check reads that copy
    (DESIGN 3f): an original replaced while the checks run changes nothing stored."""
    scope = make_tenant(engine, "acme.dc-exit")
    flow = make_flow(
        engine,
        scope,
        mappings={"Asset Name": "name", "CI Class": "asset_type"},
        sets=["environment=production"],
    )
    source = tmp_path / "export.csv"
    original = b"Asset Name,CI Class\nsrv1,Server\n"
    source.write_bytes(original)
    opened, checked = [], []
    real_open, real_sniff = Path.open, registry.sniff_source

    def counting_open(path, mode="r", *args, **kwargs):
        opened.extend([path] if path == source and "r" in mode else [])
        return real_open(path, mode, *args, **kwargs)

    def sniff_after_a_swap(path, filename, options):
        checked.append(path)
        source.write_bytes(b"Other,Columns\n1,2\n")  # replaced once the copy is made
        return real_sniff(path, filename, options)

    monkeypatch.setattr(Path, "open", counting_open)
    monkeypatch.setattr(registry, "sniff_source", sniff_after_a_swap)
    with partition_transaction(engine, "acme.dc-exit") as work:
        row = registry.register_import(work.conn, work.scope, flow, source, tmp_path / "store")
    monkeypatch.undo()

    stored = Path(row["stored_path"])
    assert opened == [source]
    assert checked[0].parent == stored.parent and checked[0].suffix == ".csv"
    assert stored.read_bytes() == original
    assert row["source_sha256"] == hashlib.sha256(original).hexdigest()
    assert [path.name for path in stored.parent.iterdir()] == [stored.name]


def test_a_duplicate_registration_leaves_no_copy(engine, tmp_path):
    scope = make_tenant(engine, "acme.dc-exit")
    flow = make_flow(
        engine,
        scope,
        mappings={"Asset Name": "name", "CI Class": "asset_type"},
        sets=["environment=production"],
    )
    source = tmp_path / "export.csv"
    source.write_text("Asset Name,CI Class\nsrv1,Server\n", encoding="utf-8")
    with engine.begin() as conn:
        first = registry.register_import(conn, scope, flow, source, tmp_path / "store")
        again = registry.register_import(conn, scope, flow, source, tmp_path / "store")
    assert again["duplicate_of"] == first["id"]
    stored = Path(first["stored_path"])
    assert [path.name for path in stored.parent.iterdir()] == [stored.name]


def test_register_import_refuses_bad_files_and_foreign_flows(engine, tmp_path):
    scope = make_tenant(engine, "acme.dc-exit")
    other = make_tenant(engine, "globex.erp-move")
    foreign_flow = make_flow(engine, other)
    flow = make_flow(engine, scope)
    good = tmp_path / "export.csv"
    good.write_text("a\n1\n", encoding="utf-8")
    odd = tmp_path / "export.pdf"
    odd.write_bytes(b"%PDF")
    with engine.begin() as conn:
        with pytest.raises(registry.RegistryError, match="unsupported file type '.pdf'"):
            registry.register_import(conn, scope, flow, odd, tmp_path / "store")
        with pytest.raises(registry.RegistryError, match="no such file"):
            registry.register_import(conn, scope, flow, tmp_path / "missing.csv", tmp_path)
        with pytest.raises(TenancyError, match="does not belong"):
            registry.register_import(conn, scope, foreign_flow, good, tmp_path / "store")
        with pytest.raises(registry.RegistryError, match="--sheet applies to .xlsx"):
            registry.register_import(conn, scope, flow, good, tmp_path / "store", sheet_name="S")
        with pytest.raises(registry.RegistryError, match="mapped column 'Asset Name' is not"):
            registry.register_import(conn, scope, flow, good, tmp_path / "store")
