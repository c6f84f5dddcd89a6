"""`wiring-pipeline bench`: the pipeline against the SQL floor and the per-row approach."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from wiring_pipeline.bench import scale
from wiring_pipeline.bench.runner import STAGES, run_bench, step_count


@click.command()
@click.option("--records", "-n", type=int, default=100_000, show_default=True)
@click.option(
    "--sources",
    type=int,
    default=1,
    show_default=True,
    help="2: then a second source of as many records, 80% of them the first's machines under"
    " other names, reconciled and scored against its truth (precision, recall).",
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write every figure to this file as JSON.",
)
@click.option(
    "--tenants",
    type=int,
    help="Instead: the scale benchmark at N engagements (daemon ticks, nightly pass, health).",
)
@click.option("--keep", is_flag=True, help="Keep the benchmark database and files afterwards.")
def bench(
    records: int, sources: int, json_file: Path | None, tenants: int | None, keep: bool
) -> None:
    """Time each stage on N generated records, beside the SQL floor and the per-row approach.

    With --tenants N: seed N engagements and time one daemon tick of every sensor and of
    the nightly schedule, the nightly pass end to end, and `health --all` (DESIGN 4b).
    Runs on new databases of the configured server, dropped afterwards unless --keep.
    """
    if tenants is not None:
        figures = _with_progress(
            scale.STEPS,
            lambda progress: scale.run_scale_bench(tenants, keep=keep, progress=progress),
        )
        _write(json_file, figures)
        Console().print(scale_table(figures))
        return
    figures = _with_progress(
        step_count(sources),
        lambda progress: run_bench(records, sources=sources, keep=keep, progress=progress),
    )
    _write(json_file, figures)
    Console().print(summary_table(figures))
    if "second_source" in figures:
        Console().print(reconciliation_table(figures))
    for line in summary_lines(figures):
        click.echo(line)


def _with_progress(steps: int, work: Callable[[Callable[[str], None]], dict]) -> dict:
    """Run `work` with a progress bar on stderr."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<42}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("starting", total=steps)

        def progress(label: str) -> None:
            bar.update(task, description=label, advance=1)

        return work(progress)


def _write(json_file: Path | None, figures: dict) -> None:
    if json_file is not None:
        json_file.write_text(json.dumps(figures, indent=2) + "\n")


def scale_table(figures: dict) -> Table:
    """The README's table: each target, its figure, and whether it is met."""
    machine = figures["machine"]
    table = Table(
        title=f"wiring-pipeline bench --tenants {figures['tenants']:,}"
        f" ({machine['cores']} cores, load {machine['load_average_at_start'][0]:.1f})"
    )
    for column in ("what", "figure", "target", "met"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for name, target in figures["targets"].items():
        table.add_row(name, str(target["value"]), target["target"], _verdict(target))
    return table


def summary_table(figures: dict) -> Table:
    table = Table(title=f"wiring-pipeline bench, {figures['records']:,} records")
    columns = ("stage", "seconds", "rows/s", "floor s", "x floor", "x per-row", "x write floor")
    for column in columns:
        stage = column == "stage"
        table.add_column(column, justify="left" if stage else "right", no_wrap=stage)
    per_row = figures["per_row"]["stages"]["inventory"]
    for stage in (*STAGES, "total"):
        row = figures["comparison"][stage]
        speedup = row["ratio_to_per_row"]
        to_write_floor = row["ratio_to_write_floor"]
        table.add_row(
            stage,
            f"{row['pipeline_seconds']:.3f}",
            f"{row['pipeline_rows_per_second']:,.0f}",
            f"{row['floor_seconds']:.3f}",
            f"{row['ratio_to_floor']:.2f}",
            f"{speedup:.1f} (per-row {per_row['rows_per_second']:,.0f}/s)" if speedup else "",
            f"{to_write_floor:.2f}" if to_write_floor else "",
        )
    write_floor = figures["write_floor"]
    table.add_row(
        "write floor",
        f"{write_floor['seconds']:.3f}",
        f"{write_floor['rows_per_second']:,.0f}",
    )
    return table


def _verdict(target: dict) -> str:
    return "yes" if target["met"] else "NO"


def reconciliation_table(figures: dict) -> Table:
    """The second source: its stages, then each figure of its matching beside its target."""
    second = figures["second_source"]
    matching = second["matching"]
    table = Table(
        title=f"second source, {second['total']['rows']:,} records"
        f" ({matching['truly_shared']:,} of them the first source's machines)"
    )
    for column in ("what", "figure", "target", "met"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for stage, timing in second["stages"].items():
        table.add_row(stage, f"{timing['seconds']:.3f} s ({timing['rows_per_second']:,.0f}/s)")
    targets = figures["targets"]
    ratio = targets["reconciliation_inventory_vs_first"]
    table.add_row(
        "inventory x first source's", str(ratio["value"]), ratio["target"], _verdict(ratio)
    )
    for name, misses in (("precision", "false_merges"), ("recall", "missed")):
        target = targets[f"reconciliation_{name}"]
        value = "none" if target["value"] is None else f"{target['value']:.6f}"
        figure = f"{value} ({matching[misses]:,} {misses.replace('_', ' ')})"
        table.add_row(name, figure, target["target"], _verdict(target))
    table.add_row("matched", f"{matching['matched']:,} ({matching['correct']:,} correct)")
    table.add_row("match candidates", f"{matching['candidates']:,}")
    return table


def summary_lines(figures: dict) -> list[str]:
    machine = figures["machine"]
    health = figures["small_partition_health"]
    lines = [
        f"peak RSS: {figures['peak_rss_mb']['after_pipeline']:.0f} MB after the pipeline,"
        f" {figures['peak_rss_mb']['after_write_floor']:.0f} MB after the write floor,"
        f" {figures['peak_rss_mb']['peak']:.0f} MB for the whole run",
        f"small partition ({health['records']:,} records) health: median"
        f" {health['median_ms']:.2f} ms over {len(health['runs_ms'])} runs",
        f"machine: {machine['cores']} cores, {machine['ram_gb']} GB, {machine['cpu_model']};"
        f" {machine['postgresql'].split(' on ')[0]}; load average"
        f" {machine['load_average_at_start'][0]:.1f} at start,"
        f" {machine['load_average_at_end'][0]:.1f} at end",
    ]
    reimport = figures["reimport"]["stages"]
    lines.append(
        f"re-import of next week's export ({reimport['inventory']['rows']:,} rows: 10% changed,"
        " 1% gone, 1% new): "
        + ", ".join(f"{stage} {timing['seconds']:.3f} s" for stage, timing in reimport.items())
    )
    written = figures["write_floor"]["rows_per_table"]
    lines.append(
        "write floor: the pipeline's rows written once with binary COPY: "
        + ", ".join(f"{table} {rows:,}" for table, rows in written.items())
    )
    mismatched = [t for t, d in figures["floor_differences"].items() if d["differences"]]
    lines.append(
        "floor and pipeline tables: "
        + (f"DIFFER in {', '.join(mismatched)}" if mismatched else "identical")
    )
    if "second_source" in figures:
        kinds = figures["second_source"]["matching"]["kinds"]
        lines.append(
            "second source by kind (records: matched, correct, candidates): "
            + "; ".join(
                f"{kind} {k['records']:,}: {k['matched']:,}, {k['correct']:,}, {k['candidates']:,}"
                for kind, k in kinds.items()
            )
        )
    for name, target in figures["targets"].items():
        verdict = "met" if target["met"] else "MISSED"
        lines.append(f"target {name}: {target['value']} (want {target['target']}) {verdict}")
    return lines
