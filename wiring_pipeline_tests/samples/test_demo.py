"""The demo world: deterministic files, the tenants it promises, the legacy rows it counts."""

from __future__ import annotations

from sqlalchemy import func, select

from wiring_pipeline.domain.core.schema import (
    assets,
    data_imports,
    discovery_flows,
    raw_import_records,
)
from wiring_pipeline.samples import cmdb_generator as gen
from wiring_pipeline.samples.demo import DEMO_PARTITIONS, remove_demo_tenants, seed_demo


def test_generator_is_deterministic_and_messy():
    rows = list(gen.iter_cmdb_rows(7, 2_000))
    assert rows == list(gen.iter_cmdb_rows(7, 2_000))
    assert rows != list(gen.iter_cmdb_rows(8, 2_000))
    assert all(set(row) == set(gen.CMDB_COLUMNS) for row in rows)
    environments = {row["Environment"] for row in rows}
    assert any(e != e.strip() for e in environments)  # stray whitespace
    assert any(e.isupper() for e in environments if e.strip())  # mixed case
    assert any(not row[c].strip() for row in rows for c in ("Environment", "CI Class"))  # blanks
    assert any(a == b for a, b in zip(rows, rows[1:]))  # duplicate rows
    kinds = {row["CI Class"].strip().lower() for row in rows if row["CI Class"].strip()}
    assert kinds == {"server", "virtual machine", "database", "application", "network device"}


def test_seed_writes_what_the_manifest_says(engine, tmp_path):
    with engine.begin() as conn:
        seeded = seed_demo(conn, tmp_path / "files", tmp_path / "imports")
    assert [s.scope.partition_key for s in seeded] == [p.key for p in DEMO_PARTITIONS]
    assert len({s.scope.client_account_id for s in seeded}) == 2
    with engine.connect() as conn:
        for item, partition in zip(seeded, DEMO_PARTITIONS):
            tenant = (
                assets.c.client_account_id == item.scope.client_account_id,
                assets.c.engagement_id == item.scope.engagement_id,
            )
            legacy_missing = conn.execute(
                select(func.count())
                .select_from(assets)
                .where(*tenant, assets.c.flow_id.is_not(None), assets.c.discovery_flow_id.is_(None))
            ).scalar_one()
            assert legacy_missing == partition.legacy.flow_assets_missing_link
            assert (
                conn.execute(select(func.count()).select_from(assets).where(*tenant)).scalar_one()
                == item.legacy_rows["assets"]
            )
            assert (
                conn.execute(
                    select(func.count())
                    .select_from(raw_import_records)
                    .where(
                        raw_import_records.c.client_account_id == item.scope.client_account_id,
                        raw_import_records.c.engagement_id == item.scope.engagement_id,
                    )
                ).scalar_one()
                == item.legacy_rows["raw_import_records"]
            )
            assert item.data_import["status"] == "pending"
        # The 29 seed assets of the source plan.
        assert seeded[0].expected_baseline["flow_based_assets_missing_discovery_flow_id"] == 29
        # Two tenants share a legacy flow_id: only tenant scoping tells their flows apart.
        shared = conn.execute(
            select(discovery_flows.c.flow_id, func.count())
            .group_by(discovery_flows.c.flow_id)
            .having(func.count() > 1)
        ).all()
        assert len(shared) == 1


def test_reseed_after_reset_gives_the_same_files(engine, tmp_path):
    with engine.begin() as conn:
        seed_demo(conn, tmp_path / "a", tmp_path / "imports")
        assert remove_demo_tenants(conn) == 2
        assert conn.execute(select(func.count()).select_from(data_imports)).scalar_one() == 0
        seed_demo(conn, tmp_path / "b", tmp_path / "imports")
    for first in sorted((tmp_path / "a").iterdir()):
        if first.suffix != ".xlsx":  # xlsx embeds a timestamp
            assert first.read_bytes() == (tmp_path / "b" / first.name).read_bytes()
