"""What the routes answer: the CLI's domain results, in DESIGN 4a's shapes."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

from wiring_pipeline.domain.contract.metrics import METRICS
from wiring_pipeline.domain.health.measure import measure_wiring_health
from wiring_pipeline.domain.health.snapshots import record_snapshot
from wiring_pipeline.domain.inventory.export import EXPORT_COLUMNS, PROVENANCE_COLUMNS
from wiring_pipeline.domain.inventory.listing import MAX_PAGE_SIZE
from wiring_pipeline.samples import cmdb_generator as gen
from wiring_pipeline_tests.api.conftest import Tokens, issue
from wiring_pipeline_tests.support.defects import BROKEN_KEY
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.pipeline_helpers import register, run_stages

PIPELINE_KEY = "acme.api-export"


def test_health_is_the_domain_measurement(client, engine, world, tokens):
    auth = Tokens.header(tokens.broken)
    plain = client.get(f"/api/v1/partitions/{BROKEN_KEY}/health/wiring", headers=auth).json()
    assert plain["metrics"] == world.expected and plain["health_status"] == "unhealthy"
    assert plain["samples"] is None and plain["tenant"]["partition_key"] == BROKEN_KEY
    detail = client.get(
        f"/api/v1/partitions/{BROKEN_KEY}/health/wiring", params={"detail": "true"}, headers=auth
    ).json()
    with engine.connect() as conn, conn.begin():
        expected = measure_wiring_health(conn, world.broken.scope, detail=True).as_json()
    assert detail == expected
    assert set(detail["samples"]) == {m.name for m in METRICS}


def test_listing_caps_the_page_size_and_toggles_discovery_methods(client, engine, world, tokens):
    url = f"/api/v1/partitions/{BROKEN_KEY}/assets"
    auth = Tokens.header(tokens.broken)
    first = client.get(url, params={"page_size": 3}, headers=auth).json()
    assert set(first) >= {"items", "page", "page_size", "total", "page_size_capped"}
    assert (first["page"], first["page_size"], first["page_size_capped"]) == (1, 3, False)
    assert len(first["items"]) == 3 and first["total"] > 3
    second = client.get(url, params={"page_size": 3, "page": 2}, headers=auth).json()
    assert not {a["id"] for a in first["items"]} & {a["id"] for a in second["items"]}

    capped = client.get(url, params={"page_size": 5000}, headers=auth).json()
    assert capped["page_size"] == MAX_PAGE_SIZE and capped["page_size_capped"] is True
    everything = client.get(url, params={"all": "true", "page_size": 200}, headers=auth).json()
    assert everything["total"] > capped["total"]
    assert {a["discovery_method"] for a in capped["items"]} == {"flow_based"}
    assert len(everything["items"]) == everything["total"]
    retired_too = client.get(url, params={"all": "true", "include_retired": "true"}, headers=auth)
    assert retired_too.json()["total"] == everything["total"]  # nothing is retired yet

    for bad in ({"page": 0}, {"page_size": 0}, {"page": "x"}):
        assert client.get(url, params=bad, headers=auth).status_code == 422, bad


def test_metrics_are_the_latest_snapshots_in_prometheus_format(client, engine, world, tokens):
    with engine.begin() as conn:
        for partition in (world.broken, world.neighbour):
            record_snapshot(conn, measure_wiring_health(conn, partition.scope), None)
        # A newer snapshot of the broken partition replaces the older one in the scrape.
        latest = record_snapshot(conn, measure_wiring_health(conn, world.broken.scope), None)
    response = client.get("/metrics", headers=Tokens.header(tokens.admin))
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    values = {
        (s.labels["partition"], s.labels["metric"]): s.value
        for s in families["wiring_metric"].samples
    }
    assert {name: value for (key, name), value in values.items() if key == BROKEN_KEY} == {
        name: float(count) for name, count in latest.health.metrics.items()
    }
    assert len(values) == 2 * len(METRICS)
    healthy = {s.labels["partition"]: s.value for s in families["wiring_partition_healthy"].samples}
    assert healthy == {BROKEN_KEY: 0.0, "clean.neighbour": 1.0}
    stamps = families["wiring_snapshot_timestamp_seconds"].samples
    assert {s.labels["partition"]: s.value for s in stamps}[BROKEN_KEY] == (
        latest.snapshot.measured_at.timestamp()
    )


def _pipeline_partition(engine, tmp_path: Path, rows: int = 30):
    scope = make_tenant(engine, PIPELINE_KEY)
    flow = make_flow(engine, scope, flow_name="wave one")
    path = tmp_path / "cmdb export.csv"
    gen.write_csv(path, gen.iter_cmdb_rows(5, rows))
    register(engine, scope, flow, path)
    run_stages(engine, PIPELINE_KEY)
    return scope


def test_export_route_gives_each_asset_its_provenance(client, engine, tmp_path):
    _pipeline_partition(engine, tmp_path)
    auth = Tokens.header(issue(engine, partition_key=PIPELINE_KEY))
    url = f"/api/v1/partitions/{PIPELINE_KEY}/assets/export"
    csv = client.get(url, headers=auth)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert f'filename="{PIPELINE_KEY}-inventory.csv"' in csv.headers["content-disposition"]
    from_csv = pd.read_csv(io.BytesIO(csv.content), encoding="utf-8-sig")
    xlsx = client.get(url, params={"format": "xlsx"}, headers=auth)
    from_xlsx = pd.read_excel(io.BytesIO(xlsx.content), sheet_name="inventory")
    source = list(gen.iter_cmdb_rows(5, 30))
    for frame in (from_csv, from_xlsx):
        assert list(frame.columns) == list(EXPORT_COLUMNS)  # every inventory field
        assert set(PROVENANCE_COLUMNS) <= set(frame.columns)
        assert len(frame) > 0 and frame["import_file"].eq("cmdb export.csv").all()
        assert frame["flow_name"].eq("wave one").all()
        assert frame["source_row_number"].is_unique and frame["source_row_number"].min() >= 1
        assert frame["mapping_hash"].str.fullmatch(r"[0-9a-f]{64}").all()
        # The sizing and the hardware as the file had them (its line 1 is the header).
        for asset in frame.itertuples():
            row = source[asset.source_row_number - 2]
            assert asset.cpu_cores == int(row["CPU Cores"])
            assert asset.memory_gb == float(row["Memory (GB)"])
            assert str(asset.storage_gb) == str(float(row["Storage (GB)"] or "nan"))
            assert (asset.serial_number, asset.manufacturer, asset.model) == (
                row["Serial Number"],
                row["Manufacturer"],
                row["Model"],
            )
            assert (asset.business_unit, asset.description) == (
                row["Business Unit"],
                row["Description"],
            )
    assert list(from_csv["asset_id"]) == list(from_xlsx["asset_id"])
    assert client.get(url, params={"format": "pdf"}, headers=auth).status_code == 422
