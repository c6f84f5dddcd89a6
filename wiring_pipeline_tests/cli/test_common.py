"""What every command shares: reads never wait for a run, and a busy partition is not bad input."""

from __future__ import annotations

import json

from click.testing import CliRunner

from wiring_pipeline.cli.main import WiringGroup, cli
from wiring_pipeline.db.transactions import PartitionBusyError
from wiring_pipeline.domain.core.tenancy import UnknownTenantError
from wiring_pipeline_tests.support.factories import make_tenant, partition_held


def test_reads_answer_while_a_run_holds_the_partition(engine):
    make_tenant(engine, "acme.dc-exit")
    with partition_held(engine, "acme.dc-exit", seconds=30) as holder:
        health = CliRunner().invoke(cli, ["health", "--partition", "acme.dc-exit"])
        listing = CliRunner().invoke(cli, ["inventory", "--partition", "acme.dc-exit"])
        flows = CliRunner().invoke(cli, ["flow", "list", "--partition", "acme.dc-exit"])
        # Had any of them waited for the lock (up to 60 s), the holder would have let go
        # after 30 s and ended: these reads finished while the partition was held.
        assert holder.is_alive()
    assert health.exit_code == 0, health.output
    assert json.loads(health.output)["health_status"] == "healthy"
    assert listing.exit_code == 0 and json.loads(listing.output)["assets"] == []
    assert flows.exit_code == 0 and json.loads(flows.output) == []


def test_the_two_error_kinds_exit_1_and_2():
    """Retry-later errors (a busy partition) exit 1, user-input errors 2, caught by the group."""
    group = WiringGroup()

    @group.command()
    def busy() -> None:
        raise PartitionBusyError("partition 'acme.dc-exit' is busy")

    @group.command()
    def unknown() -> None:
        raise UnknownTenantError("partition key 'acme.nope': no engagement")

    busy_result = CliRunner().invoke(group, ["busy"])
    assert busy_result.exit_code == 1
    assert "is busy" in busy_result.output
    unknown_result = CliRunner().invoke(group, ["unknown"])
    assert unknown_result.exit_code == 2
    assert "no engagement" in unknown_result.output
