"""`wiring-pipeline constraints [--validate]`: `wiring_constraints_job` from the shell.

It runs in process on the configured instance, so the `wiring_foreign_keys` check in the
UI shows the state the command left.
"""

import click

from wiring_pipeline.cli.common import echo_json, engine
from wiring_pipeline.cli.in_process import report_of, run_in_process
from wiring_pipeline.domain.contract.constraints import OrphansRemainError


@click.command("constraints")
@click.option(
    "--validate",
    is_flag=True,
    help="Also VALIDATE CONSTRAINT each key, unless a partition still has orphans.",
)
def constraints(validate: bool) -> None:
    """Add the tenant-scoped foreign keys NOT VALID if absent, and report each key's state.

    Prints {added, orphans (per partition), validation, states} as JSON. With --validate,
    exits 1 when orphans refuse validation; the message names the partitions to backfill.
    """
    engine()  # an unmigrated database stops here, exit 2
    result = run_in_process(
        "wiring_constraints_job",
        run_config={"ops": {"wiring_foreign_keys": {"config": {"validate_keys": validate}}}},
    )
    report = report_of(result, "wiring_foreign_keys")
    if report is None:
        raise click.ClickException(f"constraints run {result.run_id} failed: see its logs")
    echo_json({"run_id": result.run_id, **report})
    if report["validation"] == "refused":
        raise OrphansRemainError(report["orphans"])
