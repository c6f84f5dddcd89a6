"""`health` and `inventory` as a user types them: JSON shape, exit codes, the page-size cap."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import text

from wiring_pipeline.cli import health as health_cli
from wiring_pipeline.cli.main import cli
from wiring_pipeline.domain.contract.metrics import METRICS
from wiring_pipeline.domain.health import fleet
from wiring_pipeline.domain.inventory.listing import MAX_PAGE_SIZE
from wiring_pipeline_tests.support.defects import HEALTHY_PAIRS, build_defect_world


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_health_prints_the_plan_shape_and_exits_by_verdict(engine):
    world = build_defect_world(engine)
    healthy = run("health", "--partition", world.neighbour.scope.partition_key)
    assert healthy.exit_code == 0, healthy.output
    report = json.loads(healthy.stdout)
    assert set(report) == {"metrics", "health_status", "completeness", "tenant", "samples"}
    assert report["health_status"] == "healthy" and report["samples"] is None
    assert report["completeness"] == "complete"
    assert report["tenant"]["partition_key"] == world.neighbour.scope.partition_key

    broken = run("health", "--partition", world.broken.scope.partition_key, "--detail")
    assert broken.exit_code == 1
    report = json.loads(broken.stdout)
    assert report["metrics"] == world.expected and report["health_status"] == "unhealthy"
    assert report["completeness"] == (
        "incomplete" if world.expected["source_rows_not_in_inventory"] else "complete"
    )
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


def test_health_all_is_one_picture_even_when_a_run_commits_between_its_chunks(engine, monkeypatch):
    world = build_defect_world(engine)
    before = json.loads(run("health", "--all").stdout)
    sibling = world.sibling.scope
    measured: list[str] = []

    def measure_then_commit_elsewhere(conn, chunk):
        """Measure a chunk; after the first, another session commits a change to the last
        partition (its records go back to unprocessed), as a concurrent run would."""
        measured.extend(scope.partition_key for scope in chunk)
        reports = fleet.measure_partitions(conn, chunk)
        if len(measured) == 1:
            with engine.begin() as other:
                other.execute(
                    text(
                        "UPDATE migration.raw_import_records SET is_processed = false"
                        " WHERE client_account_id = :client AND engagement_id = :engagement"
                    ),
                    {"client": sibling.client_account_id, "engagement": sibling.engagement_id},
                )
        return reports

    monkeypatch.setattr(health_cli, "chunked", lambda scopes: fleet.chunked(scopes, 1))
    monkeypatch.setattr(health_cli, "measure_partitions", measure_then_commit_elsewhere)
    during = run("health", "--all")
    assert measured[-1] == sibling.partition_key and len(measured) == 3  # three chunks
    assert json.loads(during.stdout) == before  # the change committed mid-way is not seen
    monkeypatch.undo()
    after = {r["tenant"]["partition_key"]: r for r in json.loads(run("health", "--all").stdout)}
    assert after[sibling.partition_key]["metrics"]["unprocessed_raw_records"] == HEALTHY_PAIRS


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
