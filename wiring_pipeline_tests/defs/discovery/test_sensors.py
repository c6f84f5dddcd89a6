"""The discovery sensors: partitions added once, one run per import with a stable run key."""

from __future__ import annotations

import pytest
from dagster import SensorResult, SkipReason, build_sensor_context, instance_for_test
from sqlalchemy import text

from wiring_pipeline.defs.discovery.sensors import pending_imports_sensor, tenant_engagement_sensor
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.resources import WiringDatabase
from wiring_pipeline_tests.factories import make_flow, make_tenant
from wiring_pipeline_tests.pipeline_helpers import register


@pytest.fixture()
def instance():
    with instance_for_test() as instance:
        yield instance


def tick(sensor, instance):
    context = build_sensor_context(instance=instance, resources={"wiring_db": WiringDatabase()})
    return sensor(context)


def test_partitions_are_added_once_and_only_for_valid_keys(engine, instance):
    make_tenant(engine, "acme.dc-exit")
    make_tenant(engine, "globex.erp-move")
    with engine.begin() as conn:  # a legacy engagement whose slug is no valid key
        conn.execute(
            text(
                "INSERT INTO migration.engagements (client_account_id, slug, name)"
                " SELECT id, 'Legacy_Slug', 'legacy' FROM migration.client_accounts"
                " WHERE slug = 'acme'"
            )
        )
    first = tick(tenant_engagement_sensor, instance)
    assert isinstance(first, SensorResult)
    [request] = first.dynamic_partitions_requests
    assert list(request.partition_keys) == ["acme.dc-exit", "globex.erp-move"]
    instance.add_dynamic_partitions(tenant_engagements.name, list(request.partition_keys))

    assert isinstance(tick(tenant_engagement_sensor, instance), SkipReason)

    make_tenant(engine, "acme.cloud-wave1")
    [request] = tick(tenant_engagement_sensor, instance).dynamic_partitions_requests
    assert list(request.partition_keys) == ["acme.cloud-wave1"]


def test_pending_imports_request_runs_with_stable_run_keys(engine, instance, tmp_path):
    path = tmp_path / "cmdb.csv"
    path.write_text("Asset Name,CI Class,Environment\nweb-1,Server,Production\n")
    imports = {}
    for key in ("acme.dc-exit", "globex.erp-move"):
        scope = make_tenant(engine, key)
        flow = make_flow(
            engine,
            scope,
            mappings={"Asset Name": "name", "CI Class": "asset_type", "Environment": "environment"},
        )
        imports[key] = register(engine, scope, flow, path)["id"]
    instance.add_dynamic_partitions(tenant_engagements.name, ["acme.dc-exit"])

    first = tick(pending_imports_sensor, instance)
    second = tick(pending_imports_sensor, instance)

    # globex.erp-move has no partition yet: its import waits.
    assert [(r.partition_key, r.run_key) for r in first.run_requests] == [
        ("acme.dc-exit", f"import:{imports['acme.dc-exit']}")
    ]
    assert [r.run_key for r in second.run_requests] == [r.run_key for r in first.run_requests]


def test_no_pending_imports_skips(engine, instance):
    make_tenant(engine, "acme.dc-exit")
    assert isinstance(tick(pending_imports_sensor, instance), SkipReason)
