"""The discovery sensors: partitions added once, one run per partition with a stable run key."""

from __future__ import annotations

import pytest
from dagster import SensorResult, SkipReason, build_sensor_context, instance_for_test
from sqlalchemy import text

from wiring_pipeline.defs.discovery import sensors as discovery
from wiring_pipeline.defs.discovery.sensors import pending_imports_sensor, tenant_engagement_sensor
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.ingest.registry import add_tenant
from wiring_pipeline.resources import WiringDatabase
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.pipeline_helpers import register

#: The mappings of the three-column file these tests register.
THREE_COLUMNS = {"Asset Name": "name", "CI Class": "asset_type", "Environment": "environment"}


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
            mappings=THREE_COLUMNS,
        )
        imports[key] = register(engine, scope, flow, path)["id"]
    instance.add_dynamic_partitions(tenant_engagements.name, ["acme.dc-exit"])

    first = tick(pending_imports_sensor, instance)
    second = tick(pending_imports_sensor, instance)

    # globex.erp-move has no partition yet: its import waits.
    assert [(r.partition_key, r.run_key) for r in first.run_requests] == [
        ("acme.dc-exit", discovery.pending_run_key("acme.dc-exit", [imports["acme.dc-exit"]]))
    ]
    assert [r.run_key for r in second.run_requests] == [r.run_key for r in first.run_requests]


def test_one_run_per_partition_whatever_its_pending_imports_a_new_import_a_new_run(
    engine, instance, tmp_path
):
    scope = make_tenant(engine, "acme.dc-exit")
    flows = [make_flow(engine, scope, mappings=THREE_COLUMNS) for _ in range(2)]
    files = []
    for n in range(3):
        files.append(tmp_path / f"cmdb-{n}.csv")
        files[-1].write_text(f"Asset Name,CI Class,Environment\nweb-{n},Server,Production\n")
    first_two = [register(engine, scope, flow, file)["id"] for flow, file in zip(flows, files)]
    instance.add_dynamic_partitions(tenant_engagements.name, ["acme.dc-exit"])

    [run] = tick(pending_imports_sensor, instance).run_requests
    assert run.partition_key == "acme.dc-exit"
    # The same pending set, in whatever order it is read, is the same run.
    assert run.run_key == discovery.pending_run_key("acme.dc-exit", reversed(first_two))
    assert [r.run_key for r in tick(pending_imports_sensor, instance).run_requests] == [run.run_key]

    register(engine, scope, flows[0], files[2])  # next week's file, after the run was asked
    [again] = tick(pending_imports_sensor, instance).run_requests
    assert again.partition_key == "acme.dc-exit" and again.run_key != run.run_key


def test_no_pending_imports_skips(engine, instance):
    make_tenant(engine, "acme.dc-exit")
    assert isinstance(tick(pending_imports_sensor, instance), SkipReason)


def test_many_new_engagements_are_added_in_chunks_across_ticks_never_twice(
    engine, instance, monkeypatch
):
    monkeypatch.setattr(discovery, "PARTITIONS_PER_TICK", 20)
    with engine.begin() as conn:
        keys = sorted(add_tenant(conn, f"many.e-{n:02d}")[0].partition_key for n in range(50))
    added: list[str] = []
    for _ in range(3):
        [request] = tick(tenant_engagement_sensor, instance).dynamic_partitions_requests
        # What the daemon does with the request before the next tick.
        instance.add_dynamic_partitions(tenant_engagements.name, list(request.partition_keys))
        added += request.partition_keys
    assert [len(added[:20]), len(added[20:40]), len(added[40:])] == [20, 20, 10]
    assert added == keys  # each once, in key order
    assert isinstance(tick(tenant_engagement_sensor, instance), SkipReason)


def test_pending_imports_are_requested_a_few_partitions_a_tick_round_the_partitions(
    engine, instance, tmp_path, monkeypatch
):
    monkeypatch.setattr(discovery, "RUNS_PER_TICK", 2)
    path = tmp_path / "cmdb.csv"
    path.write_text("Asset Name,CI Class,Environment\nweb-1,Server,Production\n")
    keys = [f"queue.e-{n}" for n in range(5)]
    for key in keys:
        scope = make_tenant(engine, key)
        register(engine, scope, make_flow(engine, scope, mappings=THREE_COLUMNS), path)
    instance.add_dynamic_partitions(tenant_engagements.name, keys)

    cursor, requested = None, []
    for _ in range(3):
        context = build_sensor_context(
            instance=instance, cursor=cursor, resources={"wiring_db": WiringDatabase()}
        )
        result = pending_imports_sensor(context)
        requested.append([r.partition_key for r in result.run_requests])
        cursor = result.cursor
    assert requested == [keys[0:2], keys[2:4], [keys[4], keys[0]]]
