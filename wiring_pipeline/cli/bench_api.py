"""`wiring-pipeline bench-api`: the HTTP API under concurrent load, on loopback."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table


@click.command("bench-api")
@click.option("--requests", "-n", type=int, default=10_000, show_default=True)
@click.option("--clients", "-c", type=int, default=50, show_default=True)
@click.option("--big-records", type=int, default=1_000_000, show_default=True)
@click.option(
    "--heavy-clients",
    type=int,
    default=20,
    show_default=True,
    help="Clients asking for the big partition's health during the probes.",
)
@click.option(
    "--probes",
    type=int,
    default=500,
    show_default=True,
    help="Sequential health requests of the small partition meanwhile.",
)
@click.option("--max-seconds", type=float, default=900, show_default=True, help="Stop here.")
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write every figure to this file as JSON.",
)
@click.option("--keep", is_flag=True, help="Keep the benchmark database afterwards.")
def bench_api(
    requests: int,
    clients: int,
    big_records: int,
    heavy_clients: int,
    probes: int,
    max_seconds: float,
    json_file: Path | None,
    keep: bool,
) -> None:
    """Serve a throwaway database on loopback and read it with concurrent clients.

    Health and asset pages of a 1 000-asset partition beside one of --big-records assets,
    then that partition's health while --heavy-clients clients ask for the big one's;
    exits 1 if any request failed.
    """
    from wiring_pipeline.bench.api_load import run_load_test, write_figures

    console = Console(stderr=True)
    figures = run_load_test(
        requests=requests,
        clients=clients,
        big_records=big_records,
        heavy_clients=heavy_clients,
        probes=probes,
        max_seconds=max_seconds,
        keep=keep,
        progress=lambda label: console.log(label),
    )
    if json_file is not None:
        write_figures(json_file, figures)
    table = Table(
        title=f"{figures['requests']:,} requests, {figures['clients']} clients, "
        f"{figures['requests_per_second']:,} req/s, beside {figures['big_partition_assets']:,}"
        " assets"
    )
    for column in ("route", "requests", "errors", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "route" else "right")
    beside = figures["health_beside_heavy_load"]
    rows = {
        **figures["routes"],
        "big first page (seq.)": figures["big_partition_first_page_sequential"],
        f"small health beside {beside['heavy_clients']} big-health clients": beside["small_health"],
        f"big health ({beside['heavy_clients']} clients)": beside["big_health"],
    }
    for name, route in rows.items():
        table.add_row(
            name,
            f"{route['requests']:,}",
            str(sum(route["errors"].values())),
            str(route["p50_ms"]),
            str(route["p99_ms"]),
            str(route["max_ms"]),
        )
    Console().print(table)
    if figures["errors"] or figures["requests"] < figures["requested"]:
        raise SystemExit(1)
