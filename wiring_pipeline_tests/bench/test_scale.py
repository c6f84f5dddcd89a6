"""The scale benchmark at a small N: every tick runs through the daemon's code, the nightly
pass alerts exactly the broken partitions, and `health --all` lists every one.

No timing is asserted (the figures depend on the machine), only that each figure is there
and that the work behind it happened.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from wiring_pipeline.bench.scale import SENSORS, STEPS, run_scale_bench
from wiring_pipeline.bench.scale_seed import BROKEN_EVERY
from wiring_pipeline.cli.main import cli

TENANTS = 2 * BROKEN_EVERY


@pytest.fixture(scope="module")
def figures(server_urls, tmp_path_factory) -> dict:
    steps: list[str] = []
    result = run_scale_bench(TENANTS, progress=steps.append)
    assert len(steps) == STEPS
    return result


def test_every_tick_is_timed_and_did_its_work(figures):
    json.dumps(figures)
    ticks = figures["ticks"]
    assert set(ticks) == {*SENSORS, "nightly_wiring_health"}
    assert all(tick["seconds"] > 0 and tick["error"] is None for tick in ticks.values())
    onboarding = ticks["tenant_engagement_sensor"]
    assert onboarding["partitions_added"] == TENANTS  # fewer than one tick's chunk
    assert onboarding["ticks_to_onboard_all"] == 1
    assert ticks["nightly_wiring_health"]["runs"] == 1
    assert ticks["pending_imports_sensor"]["runs"] > 0


def test_the_nightly_pass_measures_all_and_alerts_the_broken(figures):
    nightly = figures["nightly_pass"]
    assert nightly["runs"]["succeeded"]
    totals = nightly["fleet_materialization"]
    assert (totals["partitions"], totals["unhealthy"]) == (TENANTS, figures["broken_partitions"])
    assert nightly["partitions_alerted"] == figures["broken_partitions"] == 2
    health = figures["health_all"]
    assert (health["exit_code"], health["lines"], health["unhealthy"]) == (1, TENANTS, 2)
    assert set(figures["targets"]) >= {"nightly_pass_seconds", "health_all_seconds"}


def test_a_tenant_count_below_one_is_bad_input(server_urls):
    result = CliRunner().invoke(cli, ["bench", "--tenants", "0"])
    assert result.exit_code == 2
    assert "--tenants must be at least 1" in result.output
