"""`health` and `inventory` as a user types them: JSON shape, exit codes, the page-size cap."""

from __future__ import annotations

import json

from click.testing import CliRunner

from wiring_pipeline.cli.main import cli
from wiring_pipeline.domain.contract.metrics import METRICS
from wiring_pipeline.domain.inventory.listing import MAX_PAGE_SIZE
from wiring_pipeline_tests.support.defects import HEALTHY_PAIRS, build_defect_world


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_health_prints_the_plan_shape_and_exits_by_verdict(engine):
    world = build_defect_world(engine)
    healthy = run("health", "--partition", world.neighbour.scope.partition_key)
    assert healthy.exit_code == 0, healthy.output
    report = json.loads(healthy.stdout)
    assert set(report) == {"metrics", "health_status", "tenant", "samples"}
    assert report["health_status"] == "healthy" and report["samples"] is None
    assert report["tenant"]["partition_key"] == world.neighbour.scope.partition_key

    broken = run("health", "--partition", world.broken.scope.partition_key, "--detail")
    assert broken.exit_code == 1
    report = json.loads(broken.stdout)
    assert report["metrics"] == world.expected and report["health_status"] == "unhealthy"
    assert set(report["samples"]) == {m.name for m in METRICS}

    everything = run("health", "--all")
    assert everything.exit_code == 1
    assert sorted(r["tenant"]["partition_key"] for r in json.loads(everything.stdout)) == sorted(
        p.scope.partition_key for p in (world.broken, world.sibling, world.neighbour)
    )


def test_health_all_streams_one_line_per_partition_and_filters_the_unhealthy(engine):
    world = build_defect_world(engine)
    keys = sorted(p.scope.partition_key for p in (world.broken, world.sibling, world.neighbour))

    lines = run("health", "--all", "--format", "jsonl", "--detail")
    assert lines.exit_code == 1
    reports = [json.loads(line) for line in lines.stdout.splitlines()]
    assert [r["tenant"]["partition_key"] for r in reports] == keys
    for report in reports:  # each line is what `health --partition KEY --detail` prints
        alone = run("health", "--partition", report["tenant"]["partition_key"], "--detail")
        assert report == json.loads(alone.stdout)

    only = run("health", "--all", "--format", "jsonl", "--unhealthy")
    assert only.exit_code == 1
    [report] = [json.loads(line) for line in only.stdout.splitlines()]
    assert report["tenant"]["partition_key"] == world.broken.scope.partition_key
    assert report["metrics"] == world.expected and report["samples"] is None


def test_health_bad_input_exits_2(engine):
    build_defect_world(engine)
    for args in (
        ["--partition", "no-dot"],
        ["--partition", "nobody.here"],
        ["--partition", "defect.nothing"],
        [],
        ["--all", "--partition", "defect.broken"],
        ["--partition", "defect.broken", "--unhealthy"],
        ["--all", "--format", "yaml"],
    ):
        result = run("health", *args)
        assert result.exit_code == 2, args
        assert "Error:" in result.output


def test_inventory_lists_flow_based_assets_by_default_and_pages(engine):
    world = build_defect_world(engine)
    key = world.sibling.scope.partition_key
    listed = run("inventory", "--partition", key)
    assert listed.exit_code == 0, listed.output
    page = json.loads(listed.stdout)
    assert page["discovery_method"] == "flow_based" and page["total"] == HEALTHY_PAIRS
    assert {a["id"] for a in page["assets"]} == {str(i) for i in world.sibling.linked_asset_ids}

    broken = world.broken.scope.partition_key
    flow_based = json.loads(run("inventory", "--partition", broken).stdout)
    every = json.loads(run("inventory", "--partition", broken, "--all").stdout)
    assert every["total"] - flow_based["total"] == 3  # two manual, one of unknown method
    second = json.loads(
        run("inventory", "--partition", broken, "--page", "2", "--page-size", "4").stdout
    )
    first = json.loads(run("inventory", "--partition", broken, "--page-size", "4").stdout)
    assert second["page"] == 2 and len(second["assets"]) == 4
    assert not {a["id"] for a in first["assets"]} & {a["id"] for a in second["assets"]}


def test_inventory_caps_the_page_size_with_a_message(engine):
    world = build_defect_world(engine)
    result = run("inventory", "--partition", world.broken.scope.partition_key, "--page-size", "500")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["page_size"] == MAX_PAGE_SIZE
    assert f"maximum of {MAX_PAGE_SIZE}" in result.stderr
    for args in (["--page", "0"], ["--page-size", "0"], ["--partition", "x.y"]):
        bad = run("inventory", "--partition", world.broken.scope.partition_key, *args)
        assert bad.exit_code == 2, args
