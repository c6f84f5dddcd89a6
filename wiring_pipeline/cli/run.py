"""`wiring-pipeline run --partition KEY`: the discovery job in process, then the health."""

import click

from wiring_pipeline.cli.common import echo_json, measure_health, read_partition
from wiring_pipeline.cli.in_process import failure_summary, run_in_process


@click.command("run")
@click.option("--partition", "partition_key", required=True, help="<client_slug>.<engagement_slug>")
def run(partition_key: str) -> None:
    """Run the discovery job for one partition on the configured Dagster instance.

    Prints the partition's wiring health as JSON; exits 1 when the run fails.
    """
    with read_partition(partition_key) as work:  # a bad or unknown key stops here, exit 2
        scope = work.scope
    result = run_in_process("discovery_inventory_job", scope.partition_key)
    echo_json(measure_health(scope.partition_key).as_json())
    status = "succeeded" if result.success else "failed"
    click.echo(f"run {result.run_id} of {scope.partition_key} {status}", err=True)
    if not result.success:
        raise click.ClickException(f"run {result.run_id} failed: {failure_summary(result)}")
