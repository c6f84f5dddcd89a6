"""`wiring-pipeline demo`: seed the demo tenants and show what the pipeline makes of them."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from wiring_pipeline import database, settings
from wiring_pipeline.cli.common import echo_json, engine
from wiring_pipeline.domain import demo as demo_world
from wiring_pipeline.domain.schema import assets, data_imports, raw_import_records


@click.command()
@click.option(
    "--reset/--no-reset",
    default=True,
    show_default=True,
    help="Remove the demo tenants' rows first, so every run starts from the same state.",
)
def demo(reset: bool) -> None:
    """Seed two tenants x two engagements with CMDB exports and broken legacy rows."""
    eng = engine(migrated=False)
    database.upgrade(eng)
    with eng.begin() as conn:
        if reset:
            demo_world.remove_demo_tenants(conn)
        seeded = demo_world.seed_demo(
            conn, settings.wiring_home() / "demo-files", settings.imports_dir()
        )
    with eng.connect() as conn:
        report = [
            {
                "partition": item.scope.partition_key,
                "pending_import": item.data_import["filename"],
                "source_rows": item.source_rows,
                "legacy_rows_written": item.legacy_rows,
                "row_counts": _row_counts(conn, item.scope),
                "expected_baseline_metrics": item.expected_baseline,
            }
            for item in seeded
        ]
    echo_json(report)


def _row_counts(conn, scope) -> dict[str, int]:
    counts = {}
    for table in (assets, raw_import_records, data_imports):
        counts[table.name] = conn.execute(
            select(func.count())
            .select_from(table)
            .where(
                table.c.client_account_id == scope.client_account_id,
                table.c.engagement_id == scope.engagement_id,
            )
        ).scalar_one()
    return counts
