"""`wiring-pipeline demo`: the whole story of the source plan on the demo tenants.

Seed the broken legacy world, measure the baseline, run the inventory pipeline, dry-run
and execute the backfill, re-run the pipeline for the records the backfill re-queued,
enforce the foreign keys, import one partition's week-2 export (DESIGN 3a: updated in
place, decommissioned servers retired, the diff printed), give that partition an RVTools
export as a second source (DESIGN 3e: one asset per machine, the coverage and a conflict
printed), and measure again. Every step is
a real Dagster run on the configured instance (so `make dev` shows them all afterwards),
and the command fails unless the story ends where the plan says it must: every partition
healthy, every key validated.
"""

from __future__ import annotations

import json

import click
from sqlalchemy import func, select, text

from wiring_pipeline import settings
from wiring_pipeline.cli.common import echo_json, engine, measure_health
from wiring_pipeline.cli.in_process import report_of, run_in_process
from wiring_pipeline.db import engines, transactions
from wiring_pipeline.defs.backfill.jobs import HEALTH_INLINE_TAG, OP_NAME
from wiring_pipeline.domain.contract.constraints import drop_foreign_keys
from wiring_pipeline.domain.contract.metrics import METRICS_BY_NAME
from wiring_pipeline.domain.core.schema import assets, data_imports, raw_import_records
from wiring_pipeline.domain.core.tenancy import tenant_filter
from wiring_pipeline.domain.ingest import flows
from wiring_pipeline.domain.ingest.registry import register_import
from wiring_pipeline.domain.ingest.suggest_file import suggest_for_file
from wiring_pipeline.domain.inventory.reconciliation_report import conflicts, coverage
from wiring_pipeline.domain.inventory.writes import CHANGE_KINDS
from wiring_pipeline.samples import demo as demo_world


def _say(message: str) -> None:
    click.secho(message, err=True, fg="cyan")


@click.command()
@click.option(
    "--reset/--no-reset",
    default=True,
    show_default=True,
    help="Remove the demo tenants' rows first, so every run starts from the same state.",
)
@click.option("--seed-only", is_flag=True, help="Seed the demo tenants and stop: no runs at all.")
def demo(reset: bool, seed_only: bool) -> None:
    """Seed two tenants x two engagements, then run the pipeline, backfill and constraints."""
    eng = engine(migrated=False)
    engines.upgrade(eng)
    with eng.begin() as conn:
        dropped = []
        if reset:
            # The legacy rows the demo seeds are exactly what the foreign keys refuse.
            dropped = drop_foreign_keys(conn)
            demo_world.remove_demo_tenants(conn)
        seeded = demo_world.seed_demo(
            conn, settings.wiring_home() / "demo-files", settings.imports_dir()
        )
    keys = [item.scope.partition_key for item in seeded]
    report: dict = {"seeded": _seed_report(eng, seeded), "foreign_keys_dropped": dropped}
    if seed_only:
        echo_json(report)
        return

    _say("baseline: measuring the legacy wiring of every partition (wiring_health_job)")
    report["baseline_health"] = _runs_and_health("wiring_health_job", keys)
    mismatched = [
        item.scope.partition_key
        for item in seeded
        if report["baseline_health"][item.scope.partition_key]["health"]["metrics"]
        != item.expected_baseline
    ]

    _say("pipeline: loading every pending import and building the inventory")
    report["after_pipeline"] = _runs_and_health("discovery_inventory_job", keys)

    _say("backfill: dry run of every partition")
    report["backfill_dry_run"] = {key: _backfill(key, dry_run=True) for key in keys}
    _say("backfill: executing every partition")
    report["backfill"] = {key: _backfill(key, dry_run=False) for key in keys}

    _say("pipeline: processing the raw records the backfill re-queued")
    report["after_backfill"] = _runs_and_health("discovery_inventory_job", keys)

    _say("constraints: adding the tenant-scoped foreign keys and validating them")
    constraints = run_in_process(
        "wiring_constraints_job",
        run_config={"ops": {"wiring_foreign_keys": {"config": {"validate_keys": True}}}},
    )
    report["constraints"] = report_of(constraints, "wiring_foreign_keys")

    week_two = seeded[demo_world.WEEK_TWO_PARTITION]
    _say(
        f"week 2: {week_two.scope.partition_key} imports week 1's file again (nothing happens), "
        "then next week's export: servers changed, decommissioned and new"
    )
    report["week_two"] = _week_two(week_two)
    _say(
        f"second source: {week_two.scope.partition_key} gets an RVTools export of most of its "
        "servers, under other names, and of VMs the CMDB never heard of"
    )
    report["second_source"] = _second_source(week_two)

    _say("final: measuring every partition again")
    report["final_health"] = _runs_and_health("wiring_health_job", keys)
    echo_json(report)

    problems = []
    if mismatched:
        problems.append(f"baseline differs from the seeded defects in {', '.join(mismatched)}")
    if not report["week_two"]["run_succeeded"]:
        problems.append(f"the week-2 run {report['week_two']['run_id']} failed")
    second = report["second_source"]
    seen_by = {tuple(c["sources"]) for c in second["coverage"]["combinations"]}
    shared = any(RVTOOLS_FLOW in c and len(c) == 2 for c in seen_by)
    if not (second["run_succeeded"] and shared and (RVTOOLS_FLOW,) in seen_by):
        problems.append(f"the second source was not reconciled (run {second['run_id']})")
    unhealthy = [
        k for k, v in report["final_health"].items() if v["health"]["health_status"] != "healthy"
    ]
    if unhealthy:
        problems.append(f"still unhealthy: {', '.join(unhealthy)}")
    states = (report["constraints"] or {}).get("states", {})
    if not states or any(state != "validated" for state in states.values()):
        problems.append(f"foreign keys not all validated: {json.dumps(states)}")
    _print_summary(report)
    _print_week_two(report["week_two"])
    _print_second_source(report["second_source"])
    if problems:
        raise click.ClickException("; ".join(problems))
    _say("demo: every partition healthy, every foreign key validated")


def _week_two(item) -> dict:
    """Re-register week 1's file (a duplicate), import week 2, run the job; what changed."""
    eng = engine()
    files = settings.wiring_home() / "demo-files"
    week_one_file = files / item.data_import["filename"]
    week_two_file = demo_world.write_week_two_file(files)
    with transactions.partition_transaction(eng, item.scope.partition_key) as work:
        again = register_import(
            work.conn, work.scope, item.flow, week_one_file, settings.imports_dir()
        )
        week_two = register_import(
            work.conn, work.scope, item.flow, week_two_file, settings.imports_dir()
        )
    result = run_in_process("discovery_inventory_job", item.scope.partition_key)
    return {
        "partition": item.scope.partition_key,
        "week_one_again": {"duplicate_of": str(again.get("duplicate_of"))},
        "week_two_import": str(week_two["id"]),
        "run_id": result.run_id,
        "run_succeeded": result.success,
        "changes": report_of(result, "asset_inventory"),
    }


#: The second source's flow, by the name coverage shows.
RVTOOLS_FLOW = "rvtools"

_SERVERS_SQL = f"""
SELECT a.name, a.hostname, a.ip_address, a.cpu_cores, a.memory_gb, a.operating_system
FROM migration.assets a
WHERE {tenant_filter("a")} AND a.current_phase IS DISTINCT FROM 'retired'
  AND EXISTS (SELECT 1 FROM migration.asset_sources s
              WHERE {tenant_filter("s")} AND s.asset_id = a.id AND s.current_phase = 'current')
ORDER BY a.name, a.id
"""


def _second_source(item) -> dict:
    """RVTools for the servers the CMDB lists, as `flow add --from`, `import` and `run` take
    it; what reconciling the two sources found (DESIGN 3e)."""
    eng = engine()
    key = item.scope.partition_key
    with transactions.partition_transaction(eng, key) as work:
        servers = [
            dict(r._mapping) for r in work.conn.execute(text(_SERVERS_SQL), work.scope.as_params())
        ]
        export = demo_world.write_rvtools_file(settings.wiring_home() / "demo-files", servers)
        try:
            flow = flows.find_flow(work.conn, work.scope, RVTOOLS_FLOW)
        except flows.FlowError:
            spec = suggest_for_file(export).spec.as_json()
            flow = flows.add_flow(work.conn, work.scope, spec, flow_name=RVTOOLS_FLOW)
        register_import(work.conn, work.scope, flow, export, settings.imports_dir())
    result = run_in_process("discovery_inventory_job", key)
    with transactions.partition_transaction(eng, key) as work:
        return {
            "partition": key,
            "run_id": result.run_id,
            "run_succeeded": result.success,
            "changes": report_of(result, "asset_inventory"),
            "coverage": coverage(work.conn, work.scope),
            "conflicts": conflicts(work.conn, work.scope, limit=5),
        }


def _print_second_source(second: dict) -> None:
    """Which source saw which servers, and one thing the two disagree on."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{second['partition']}: one asset per machine, whoever saw it")
    for column in ("seen by", "assets", "for example"):
        table.add_column(column)
    for combination in second["coverage"]["combinations"]:
        names = ", ".join(sample["name"] for sample in combination["samples"][:3])
        table.add_row(
            " + ".join(combination["sources"]) or "(legacy)", str(combination["assets"]), names
        )
    console = Console(stderr=True, width=160)
    console.print(table)
    for conflict in second["conflicts"][:1]:
        values = ", ".join(f"{source} says {value}" for source, value in conflict["values"].items())
        chosen = conflict["chosen"]
        console.print(
            f"conflict on {conflict['name']}: {conflict['field']}: {values}; kept "
            f"{chosen['value']} from {chosen['source']} (`inventory conflicts` lists them all)"
        )


def _print_week_two(week_two: dict) -> None:
    """The week-2 diff on stderr: per kind of change, how many and which servers."""
    from rich.console import Console
    from rich.table import Table

    changes = week_two["changes"] or {}
    table = Table(title=f"week 2 of {week_two['partition']}: what the re-import changed")
    for column in ("change", "assets", "samples"):
        table.add_column(column)
    for kind in CHANGE_KINDS:
        samples = changes.get("samples", {}).get(kind, [])
        shown = "; ".join(
            sample["name"]
            + (
                " ("
                + ", ".join(
                    f"{field}: {value.get('old')} -> {value.get('new')}"
                    for field, value in sample.get("changes", {}).items()
                )
                + ")"
                if sample.get("changes")
                else ""
            )
            for sample in samples
        )
        table.add_row(kind, str(changes.get(kind, 0)), shown)
    Console(stderr=True, width=160).print(table)


def _runs_and_health(job_name: str, keys: list[str]) -> dict:
    """Run a partitioned job for each key; return each run's id and outcome and the health."""
    outcome = {}
    for key in keys:
        result = run_in_process(job_name, key)
        health = measure_health(key)
        outcome[key] = {
            "run_id": result.run_id,
            # A failed blocking check fails the run: expected while legacy defects remain.
            "run_succeeded": result.success,
            "health": health.as_json(),
        }
    return outcome


def _backfill(key: str, dry_run: bool) -> dict | None:
    result = run_in_process(
        "discovery_wiring_backfill",
        key,
        run_config={"ops": {OP_NAME: {"config": {"dry_run": dry_run}}}},
        tags={HEALTH_INLINE_TAG: "inline"},
    )
    if not result.success:
        raise click.ClickException(f"backfill run {result.run_id} of {key} failed")
    return report_of(result, OP_NAME)


def _seed_report(eng, seeded) -> list[dict]:
    with eng.connect() as conn:
        return [
            {
                "partition": item.scope.partition_key,
                "pending_import": item.data_import["filename"],
                "import_id": str(item.data_import["id"]),
                "source_rows": item.source_rows,
                "legacy_rows_written": item.legacy_rows,
                "row_counts": _row_counts(conn, item.scope),
                "expected_baseline_metrics": item.expected_baseline,
            }
            for item in seeded
        ]


def _row_counts(conn, scope) -> dict[str, int]:
    counts = {}
    for table in (assets, raw_import_records, data_imports):
        counts[table.name] = conn.execute(
            select(func.count())
            .select_from(table)
            .where(
                *scope.where(table),
            )
        ).scalar_one()
    return counts


def _print_summary(report: dict) -> None:
    """The story in one table on stderr: ERROR-metric totals per partition and phase."""
    from rich.console import Console
    from rich.table import Table

    phases = ("baseline_health", "after_pipeline", "after_backfill", "final_health")
    table = Table(title="wiring health per partition (sum of ERROR metrics; status)")
    table.add_column("partition")
    for phase in phases:
        table.add_column(phase.replace("_", " "))
    for key in report["final_health"]:
        cells = []
        for phase in phases:
            health = report[phase][key]["health"]
            errors = sum(
                count
                for name, count in health["metrics"].items()
                if METRICS_BY_NAME[name].severity == "ERROR"
            )
            cells.append(f"{errors} ({health['health_status']})")
        table.add_row(key, *cells)
    Console(stderr=True, width=120).print(table)
