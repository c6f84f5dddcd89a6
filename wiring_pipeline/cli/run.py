"""`wiring-pipeline run --partition KEY`: the discovery job in process, then the health.

Honest about completeness (DESIGN 3b, 3c): stderr shows, per import the run loaded, where
every source row went, and the exit code is 1 whenever something needs the user: the run
failed, an import failed, a source row did not reach the inventory, or the partition is
unhealthy.
"""

import uuid

import click

from wiring_pipeline.cli.common import echo_json, measure_health, read_partition, unit_of_work
from wiring_pipeline.cli.in_process import failure_summary, report_of, run_in_process
from wiring_pipeline.domain.ingest import registry
from wiring_pipeline.domain.ingest.import_report import (
    ImportReport,
    import_reports,
    pending_import_ids,
)
from wiring_pipeline.domain.inventory.build import changes_line
from wiring_pipeline.domain.inventory.writes import CHANGE_KINDS

#: Reasons shown per kind of rejection; the rest are summed up.
SHOWN_REASONS = 5


@click.command("run")
@click.option("--partition", "partition_key", required=True, help="<client_slug>.<engagement_slug>")
@click.option(
    "--confirm-retire",
    "confirmed",
    type=click.UUID,
    multiple=True,
    help="An import whose held retirements are right: this run applies them (repeatable).",
)
def run(partition_key: str, confirmed: tuple[uuid.UUID, ...]) -> None:
    """Run the discovery job for one partition on the configured Dagster instance.

    Prints the partition's wiring health as JSON, with what the run changed in the
    inventory under `inventory_changes` (DESIGN 3a: counts and samples), and, on stderr,
    where each imported row went and one line of those changes. Exits 1 when the run or an
    import failed, when source rows did not reach the inventory, or when the partition is
    unhealthy, or when a full export holds its retirements (DESIGN 3f: it would retire more
    than a fifth of its flow's estate; `--confirm-retire IMPORT_ID` applies them).
    """
    if confirmed:
        with unit_of_work(partition_key) as work:
            for import_id in confirmed:
                registry.confirm_retirement(work.conn, work.scope, import_id)
    with read_partition(partition_key) as work:  # a bad or unknown key stops here, exit 2
        scope = work.scope
        pending = pending_import_ids(work.conn, scope)
    result = run_in_process("discovery_inventory_job", scope.partition_key, show_progress=True)
    health = measure_health(scope.partition_key)
    changes = report_of(result, "asset_inventory")
    echo_json(health.as_json() | {"inventory_changes": changes})
    with read_partition(partition_key) as work:
        reports = import_reports(work.conn, scope, pending)
    for report in reports:
        click.echo(summary_lines(report), err=True)
    if changes is not None:
        counts = {kind: changes[kind] for kind in CHANGE_KINDS}
        click.echo(f"inventory: {changes_line(counts)}", err=True)
        for held in changes.get("retirements_held", []):
            click.echo(held_line(held), err=True)
    status = "succeeded" if result.success else "failed"
    click.echo(f"run {result.run_id} of {scope.partition_key} {status}", err=True)
    if not result.success:
        raise click.ClickException(f"run {result.run_id} failed: {failure_summary(result)}")
    problems = attention_needed(reports, health.metrics, health.health_status)
    held = health.metrics.get("retirements_held", 0)
    if held:
        problems.append(f"{held} import(s) hold their retirements")
    if problems:
        raise click.ClickException(f"{scope.partition_key} needs attention: {'; '.join(problems)}")


def held_line(held: dict) -> str:
    """A held retirement, and the two ways a person decides it."""
    return (
        f"retirement held: {held['filename']} would retire {held['would_retire']} current "
        f"assets; if it is the whole estate, run --confirm-retire {held['import_id']}; if "
        "not, import it again with --partial"
    )


def attention_needed(reports: list[ImportReport], metrics: dict, health_status: str) -> list[str]:
    """Why the run's outcome needs the user, if it does (exit code 1)."""
    problems = [f"import {r.filename} failed" for r in reports if r.status == "failed"]
    missing = metrics.get("source_rows_not_in_inventory", 0)
    if missing:
        problems.append(f"{missing} source rows did not reach the inventory")
    if health_status != "healthy":
        problems.append("the wiring is unhealthy")
    return problems


def summary_lines(report: ImportReport) -> str:
    """Where the rows of one import went, for stderr."""
    read_as = ", ".join(x for x in (report.encoding, report.sheet_name) if x)
    name = f"{report.filename}{f' ({read_as})' if read_as else ''}"
    if report.status == "failed":
        return f"import {name}: FAILED: {report.error}"
    in_cleansing = sum(report.rejected_in_cleansing.values())
    lines = [
        f"import {name}: {report.source_rows} source rows: {report.loaded_rows} loaded, "
        f"{report.rejected_rows} rejected at load, {in_cleansing} rejected in cleansing, "
        f"{report.in_inventory} in the inventory"
        + (f", {report.unprocessed} not processed" if report.unprocessed else "")
    ]
    for title, counts in (
        ("rejected at load", report.rejected_by_reason),
        ("rejected in cleansing", report.rejected_in_cleansing),
        ("values not parsed (kept in the archive)", report.invalid_values),
    ):
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        lines += [f"  {title}: {reason} ({n})" for reason, n in ranked[:SHOWN_REASONS]]
        rest = sum(n for _, n in ranked[SHOWN_REASONS:])
        if rest:
            lines.append(f"  {title}: {rest} more with other reasons")
    return "\n".join(lines)
