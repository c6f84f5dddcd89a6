"""One benchmark run: the pipeline, the SQL floor, the write floor and the per-row approach.

Everything happens in one process against one throwaway database of the configured
server, so the ratios compare like with like: same server, same cache, same input file.
The floor's partition is loaded first and stays in place while the pipeline runs, so the
pipeline pays for tenant scoping next to a neighbour of the same size; the small
partition's health is measured last, beside both big ones. The write floor is measured
right after the pipeline's timed stages, on the rows they left, before the re-import
changes them. A VACUUM ANALYZE (untimed)
after the floor and before the small partition's health stands in for the autovacuum a
live server runs between jobs, so no approach inherits another's dead rows. With
`--sources 2` a second source joins the pipeline partition last, once every other figure
is taken, so they are the same whatever the option.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, make_url, text

from wiring_pipeline import settings
from wiring_pipeline.bench import floor, partition_diff, per_row, second_source, write_floor
from wiring_pipeline.bench.environment import machine_info, peak_rss_mb, throwaway_database
from wiring_pipeline.bench.figures import STAGES, Approach, SecondSource, Timing, figures
from wiring_pipeline.db import engines, transactions
from wiring_pipeline.db.import_loading import load_pending_imports
from wiring_pipeline.domain.cleansing.records import cleanse_open_records
from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.core.tenancy import TenantScope
from wiring_pipeline.domain.health.measure import COUNTS_SQL, measure_wiring_health
from wiring_pipeline.domain.health.snapshots import record_snapshot
from wiring_pipeline.domain.ingest.flows import add_flow, find_flow
from wiring_pipeline.domain.ingest.registry import add_tenant, register_import
from wiring_pipeline.domain.inventory.build import build_inventory
from wiring_pipeline.resources import embedded
from wiring_pipeline.samples.cmdb_generator import (
    CMDB_FIELD_MAPPINGS,
    iter_cmdb_rows,
    iter_next_export,
    write_csv,
)

#: The per-row approach runs on at most this many records: beyond it, it only takes longer.
PER_ROW_LIMIT = 20_000
SMALL_PARTITION_RECORDS = 1_000
#: `--sources`: the CMDB export alone, or beside a second source of as many records.
SOURCES = (1, 2)
HEALTH_REPEATS = 15

PIPELINE_KEY = "bench.pipeline"
FLOOR_KEY = "bench.floor"
PER_ROW_KEY = "bench.per-row"
SMALL_KEY = "bench.small"

BIG_SEED = 6_000_001
SMALL_SEED = 6_000_002
#: Every partition's flow has this flow_id, so equal work hashes its mappings equally.
BENCH_FLOW_ID = uuid.UUID("6be9c4a1-0000-4000-8000-00000000be9c")
BENCH_FLOW_NAME = "bench"


Progress = Callable[[str], None]


class BenchError(UserInputError):
    """A benchmark request that cannot be run (for example a record count below one)."""


@dataclass(frozen=True)
class Partition:
    scope: TenantScope
    records: int


class BenchRun:
    """The run's database, files and partitions; each method is one step of the run."""

    def __init__(self, engine: Engine, workdir: Path, progress: Progress) -> None:
        self.engine = engine
        self.workdir = workdir
        self.progress = progress

    def unit_of_work(self, key: str):
        return transactions.partition_transaction(self.engine, key)

    def add_partition(self, key: str, source: Path, records: int) -> Partition:
        """Tenant, flow and one pending import of `source`, as `tenant add`/`import` make them."""
        with self.engine.begin() as conn:
            scope, _ = add_tenant(conn, key)
            flow = add_flow(
                conn, scope, CMDB_FIELD_MAPPINGS, flow_name=BENCH_FLOW_NAME, flow_id=BENCH_FLOW_ID
            )
            register_import(conn, scope, flow, source, self.workdir / "imports")
        return Partition(scope, records)

    def write_export(self, name: str, seed: int, records: int) -> Path:
        path = self.workdir / name
        write_csv(path, iter_cmdb_rows(seed, records))
        return path

    def reimport(self, partition: Partition, seed: int) -> Partition:
        """Next week's export of the partition's estate (10% changed, 1% gone, 1% new),
        registered as a pending import of its flow; returns the partition with its size."""
        path = self.workdir / "next-week.csv"
        records = write_csv(path, iter_next_export(iter_cmdb_rows(seed, partition.records)))
        with self.engine.begin() as conn:
            flow = find_flow(conn, partition.scope, BENCH_FLOW_NAME)
            register_import(conn, partition.scope, flow, path, self.workdir / "imports")
        return Partition(partition.scope, records)

    def timed(self, label: str, key: str, records: int, work: Callable) -> Timing:
        """One stage as one unit of work on the partition, commit included."""
        self.progress(label)
        started = time.perf_counter()
        with self.unit_of_work(key) as unit:
            work(unit.conn, unit.scope)
        return Timing(time.perf_counter() - started, records)

    def run_stages(
        self, who: str, partition: Partition, functions: dict[str, Callable], stages=STAGES
    ) -> Approach:
        """Each stage in order, each one unit of work, as the Dagster job runs them."""
        approach = Approach()
        key = partition.scope.partition_key
        for stage in stages:
            approach.stages[stage] = self.timed(
                f"{who}: {stage}", key, partition.records, functions[stage]
            )
        approach.peak_rss_mb = peak_rss_mb()
        return approach

    def settle(self) -> None:
        """VACUUM ANALYZE between approaches, so each starts from a settled database."""
        self.progress("vacuum analyze")
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(
                text(
                    "VACUUM (ANALYZE) migration.raw_import_records, migration.assets,"
                    " migration.cleansed_record_archive"
                )
            )

    def second_source(self, partition: Partition) -> SecondSource:
        """A second source of the partition's size in a flow of its own, its load, cleanse
        and inventory timed as the first source's were, then scored against its truth."""
        scope = partition.scope
        self.progress("second source: generate")
        started = time.perf_counter()
        with self.engine.begin() as conn:
            first = find_flow(conn, scope, BENCH_FLOW_NAME)
            path = self.workdir / "second-source.csv"
            second_source.generate(conn, scope, first["id"], partition.records, path)
            flow = add_flow(
                conn,
                scope,
                second_source.flow_spec(),
                flow_name=second_source.FLOW_NAME,
                header=list(second_source.COLUMNS),
            )
            data_import = register_import(conn, scope, flow, path, self.workdir / "imports")
        generation_seconds = time.perf_counter() - started
        timings = self.run_stages(
            "second source", partition, PIPELINE_STAGES, stages=SECOND_SOURCE_STAGES
        )
        self.progress("second source: precision and recall")
        with self.engine.connect() as conn:
            matching = second_source.score(conn, scope, first["id"], data_import["id"])
        return SecondSource(timings, matching, generation_seconds)

    def small_partition_health(self, partition: Partition) -> dict:
        """Median latency of the health metrics of a small partition, and its query plan."""
        key = partition.scope.partition_key
        self.progress(f"small partition: health x{HEALTH_REPEATS}")
        runs = []
        for _ in range(HEALTH_REPEATS):
            with self.unit_of_work(key) as unit:
                started = time.perf_counter()
                health = measure_wiring_health(unit.conn, unit.scope)
                runs.append((time.perf_counter() - started) * 1000)
        with self.unit_of_work(key) as unit:
            plan = unit.conn.execute(
                text(f"EXPLAIN (ANALYZE, BUFFERS) {COUNTS_SQL.text}"), unit.scope.as_params()
            ).scalars()
            plan_text = "\n".join(plan)
        return {
            "records": partition.records,
            "runs_ms": [round(ms, 3) for ms in runs],
            "median_ms": round(statistics.median(runs), 3),
            "health_status": health.health_status,
            "metrics": health.metrics,
            "explain_analyze": plan_text,
        }


def _pipeline_health(conn: Connection, scope: TenantScope) -> None:
    """What the `wiring_health` asset does in its unit of work: measure, then store."""
    record_snapshot(conn, measure_wiring_health(conn, scope), None)


#: The function each Dagster asset of the job calls inside its unit of work.
PIPELINE_STAGES: dict[str, Callable[[Connection, TenantScope], object]] = {
    "load": load_pending_imports,
    "cleanse": cleanse_open_records,
    "inventory": build_inventory,
    "health": _pipeline_health,
}

FLOOR_STAGES: dict[str, Callable[[Connection, TenantScope], object]] = {
    "load": floor.load,
    "cleanse": floor.cleanse,
    "inventory": floor.build_inventory,
    "health": floor.count_metrics,
}


#: The re-import (DESIGN 3a) runs these stages of the pipeline again on next week's export.
REIMPORT_STAGES = ("load", "cleanse", "inventory")
#: A second source runs the same stages on its own import (DESIGN 5).
SECOND_SOURCE_STAGES = REIMPORT_STAGES


def step_count(sources: int = 1) -> int:
    """How many steps a run announces through `progress` (the progress bar's total)."""
    migrate_and_generate, settles, compare, done = 2, 2, 1, 1
    write_floor_steps = 2  # copy the pipeline's rows out, then write them once
    floor_and_pipeline = 2 * len(STAGES)
    per_row_steps = 3  # load and cleanse through the pipeline, then the timed inventory
    small_steps = 4  # load, cleanse, inventory, then the health measurements
    reimport_steps = 1 + len(REIMPORT_STAGES)  # generate next week's export, then its stages
    # Generate it, its stages, then its precision and recall.
    second_source_steps = (2 + len(SECOND_SOURCE_STAGES)) * (sources - 1)
    return (
        reimport_steps
        + migrate_and_generate
        + settles
        + compare
        + done
        + floor_and_pipeline
        + write_floor_steps
        + per_row_steps
        + small_steps
        + second_source_steps
    )


def run_bench(
    records: int,
    *,
    sources: int = 1,
    base_url: str | None = None,
    keep: bool = False,
    progress: Progress | None = None,
) -> dict:
    """Run the whole benchmark and return every figure as a JSON-ready dict."""
    if records < 1:
        raise BenchError(f"--records must be at least 1, got {records}")
    if sources not in SOURCES:
        raise BenchError(f"--sources must be one of {', '.join(map(str, SOURCES))}, got {sources}")
    progress = progress or (lambda _label: None)
    base_url = base_url or embedded.application_database_url()
    per_row_records = min(records, PER_ROW_LIMIT)
    with throwaway_database(base_url, keep) as url:
        name = make_url(url).database
        workdir = settings.wiring_home() / "bench" / name
        workdir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        try:
            result = _run(BenchRun(engine, workdir, progress), records, per_row_records, sources)
        finally:
            engine.dispose()
            if not keep:
                shutil.rmtree(workdir, ignore_errors=True)
    result["database"] = {"name": name, "kept": keep, "files": str(workdir) if keep else None}
    return result


def _run(run: BenchRun, records: int, per_row_records: int, sources: int) -> dict:
    rss_start = peak_rss_mb()
    run.progress("migrate")
    engines.upgrade(run.engine)
    with run.engine.connect() as conn:
        machine = machine_info(conn)

    run.progress(f"generate {records} records")
    started = time.perf_counter()
    big = run.write_export("big.csv", BIG_SEED, records)
    small = run.write_export("small.csv", SMALL_SEED, SMALL_PARTITION_RECORDS)
    per_row_file = (
        big
        if per_row_records == records
        else run.write_export("per-row.csv", BIG_SEED, per_row_records)
    )
    floor_partition = run.add_partition(FLOOR_KEY, big, records)
    pipeline_partition = run.add_partition(PIPELINE_KEY, big, records)
    per_row_partition = run.add_partition(PER_ROW_KEY, per_row_file, per_row_records)
    small_partition = run.add_partition(SMALL_KEY, small, SMALL_PARTITION_RECORDS)
    generation_seconds = time.perf_counter() - started
    rss_setup = peak_rss_mb()

    floor_run = run.run_stages("floor", floor_partition, FLOOR_STAGES)
    run.settle()
    pipeline_run = run.run_stages("pipeline", pipeline_partition, PIPELINE_STAGES)
    # Before the re-import rewrites the partition: its rows as the first run left them.
    write_floor_run = write_floor.measure(
        run.engine, pipeline_partition.scope, run.workdir, run.progress
    )
    rss_write_floor = peak_rss_mb()

    run.progress("compare floor and pipeline tables")
    with run.engine.connect() as conn:
        differences = partition_diff.table_differences(
            conn, pipeline_partition.scope, floor_partition.scope
        )

    run.progress("pipeline re-import: generate next week's export")
    next_week = run.reimport(pipeline_partition, BIG_SEED)
    reimport_run = run.run_stages(
        "pipeline re-import", next_week, PIPELINE_STAGES, stages=REIMPORT_STAGES
    )

    run.run_stages(
        "per-row: prepare", per_row_partition, PIPELINE_STAGES, stages=("load", "cleanse")
    )
    per_row_inventory = run.timed(
        "per-row: inventory",
        per_row_partition.scope.partition_key,
        per_row_records,
        per_row.build_inventory,
    )
    rss_per_row = peak_rss_mb()

    run.run_stages(
        "small partition: prepare",
        small_partition,
        PIPELINE_STAGES,
        stages=("load", "cleanse", "inventory"),
    )
    run.settle()
    small_health = run.small_partition_health(small_partition)
    second = run.second_source(pipeline_partition) if sources == 2 else None
    run.progress("done")
    machine["load_average_at_end"] = os.getloadavg()
    return figures(
        records=records,
        per_row_records=per_row_records,
        machine=machine,
        generation_seconds=generation_seconds,
        pipeline_run=pipeline_run,
        reimport_run=reimport_run,
        floor_run=floor_run,
        write_floor=write_floor_run,
        per_row_inventory=per_row_inventory,
        differences=differences,
        small_health=small_health,
        rss={
            "start": rss_start,
            "after_setup": rss_setup,
            "after_floor": floor_run.peak_rss_mb,
            "after_pipeline": pipeline_run.peak_rss_mb,
            "after_write_floor": rss_write_floor,
            "after_per_row": rss_per_row,
            "peak": peak_rss_mb(),
        },
        small_partition_records=SMALL_PARTITION_RECORDS,
        second_source=second,
    )
