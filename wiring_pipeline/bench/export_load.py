"""`inventory export` at scale: peak memory and time of the command line and of the API.

The export used to build the whole file in memory: a 600 000-asset CSV took the server
from 209 MB to 2.1 GB, three at once to 4.9 GB. This bench seeds a throwaway database with
a partition of N assets that carry every inventory field and their provenance (set-based,
the `bench-api` seed plus one UPDATE), then measures

* the command line, `wiring-pipeline inventory export`, under `/usr/bin/time -v` (its
  maximum resident set size and wall time);
* the API, `serve` as a subprocess on loopback: one download, then `concurrent` at once,
  the server's peak resident memory (`VmHWM`, reset before each) and the wall time.

A benchmark for the README, never a test's pass mark.

    python -m wiring_pipeline.bench.export_load --records 1000000 --xlsx-records 200000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
from sqlalchemy import Connection, text

from wiring_pipeline.bench.api_load import running_server, seed_partition
from wiring_pipeline.bench.environment import machine_info
from wiring_pipeline.bench.seeded import seeded_database
from wiring_pipeline.domain.access.tokens import create_token
from wiring_pipeline.domain.contract.fields import INVENTORY_FIELDS
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter
from wiring_pipeline.domain.ingest.registry import add_tenant

CSV_KEY = "export.csv"
XLSX_KEY = "export.xlsx"
IMPORT_FILE = "bench export.csv"

Progress = Callable[[str], None]

#: A value of each kind for the asset of source row `r.row_number`: every cell filled, the
#: text about as long as a real CMDB's.
_VALUES = {
    "integer": "(r.row_number % 64) + 1",
    "number": "((r.row_number % 512) + 1) * 0.5",
}


def _field_value(field: str, kind: str) -> str:
    return _VALUES.get(kind, f"'{field}-' || r.row_number")


def fill_export_fields(conn: Connection, scope: TenantScope) -> None:
    """Give every asset of the partition a value in every inventory field, and every raw
    record an import file, so that each column of the export has something to carry."""
    params = scope.as_params()
    import_id = conn.execute(
        text(
            """INSERT INTO migration.data_imports
                   (client_account_id, engagement_id, filename, status)
               VALUES (:client_account_id, :engagement_id, :filename, 'loaded')
               RETURNING id"""
        ),
        {**params, "filename": IMPORT_FILE},
    ).scalar_one()
    conn.execute(
        text(
            f"UPDATE migration.raw_import_records r SET data_import_id = :import_id"
            f" WHERE {tenant_filter('r')}"
        ),
        {**params, "import_id": import_id},
    )
    assignments = ", ".join(
        f"{field} = {_field_value(field, kind)}" for field, kind in INVENTORY_FIELDS.items()
    )
    conn.execute(
        text(
            f"""UPDATE migration.assets a
                SET {assignments}, field_mappings_used = repeat('ab', 32)
                FROM migration.raw_import_records r
                WHERE {tenant_filter("a")} AND {tenant_filter("r")}
                  AND r.id = a.raw_import_records_id"""
        ),
        params,
    )


def seed_export_partition(conn: Connection, key: str, records: int) -> TenantScope:
    """A partition of `records` linked assets with every inventory field filled."""
    seed_partition(conn, key, records)
    scope, _ = add_tenant(conn, key)
    fill_export_fields(conn, scope)
    return scope


def _cli_export(url: str, key: str, fmt: str, target: Path) -> dict:
    """`inventory export` under `/usr/bin/time -v`: its peak RSS and wall time."""
    command = os.path.join(os.path.dirname(sys.executable), "wiring-pipeline")
    done = subprocess.run(
        ["/usr/bin/time", "-v", command, "inventory", "export", "--partition", key]
        + ["--format", fmt, "--output", str(target)],
        env={**os.environ, "WIRING_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=True,
    )
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr)[1]
    seconds = sum(float(part) * 60**i for i, part in enumerate(reversed(wall.split(":"))))
    return {
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "seconds": round(seconds, 2),
        "bytes": target.stat().st_size,
    }


def _server_process() -> psutil.Process:
    (server,) = [p for p in psutil.Process().children() if "serve" in p.cmdline()]
    return server


def _memory_mb(pid: int, field: str) -> float:
    """`VmRSS` (now) or `VmHWM` (peak since the last reset) of `pid`, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def _download(base: str, token: str, key: str, fmt: str, sizes: list[int], starts: list) -> None:
    path = f"/api/v1/partitions/{key}/assets/export"
    started = time.perf_counter()
    size = 0
    with (
        httpx.Client(base_url=base, timeout=600) as client,
        client.stream(
            "GET", path, params={"format": fmt}, headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        response.raise_for_status()
        for chunk in response.iter_raw():
            if not size:
                starts.append(time.perf_counter() - started)
            size += len(chunk)
    sizes.append(size)


def _api_exports(base: str, token: str, key: str, fmt: str, clients: int) -> dict:
    """`clients` downloads of the export at once: the server's peak RSS and the time."""
    server = _server_process()
    Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # resets VmHWM to VmRSS
    before = _memory_mb(server.pid, "VmRSS")
    sizes: list[int] = []
    first_bytes: list[float] = []
    started = time.perf_counter()
    threads = [
        threading.Thread(target=_download, args=(base, token, key, fmt, sizes, first_bytes))
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(sizes) != clients:
        raise RuntimeError(f"{clients - len(sizes)} of {clients} downloads failed")
    return {
        "clients": clients,
        "server_rss_before_mb": round(before, 1),
        "server_peak_rss_mb": round(_memory_mb(server.pid, "VmHWM"), 1),
        "seconds": round(time.perf_counter() - started, 2),
        "first_byte_seconds": round(max(first_bytes), 2),
        "bytes": sizes[0],
    }


def run_export_bench(
    *,
    records: int = 1_000_000,
    xlsx_records: int = 200_000,
    concurrent: int = 3,
    keep: bool = False,
    progress: Progress = lambda label: None,
) -> dict:
    def seed(conn: Connection) -> None:
        progress(f"seeding {records:,} assets (csv) and {xlsx_records:,} (xlsx)")
        seed_export_partition(conn, CSV_KEY, records)
        seed_export_partition(conn, XLSX_KEY, xlsx_records)

    with seeded_database(seed, keep) as (url, engine):
        with engine.begin() as conn:
            token = create_token(conn, client_slug="export").token
            machine = machine_info(conn)
        figures: dict = {"records": {"csv": records, "xlsx": xlsx_records}, "cli": {}, "api": {}}
        with tempfile.TemporaryDirectory() as workdir:
            for fmt, key in (("csv", CSV_KEY), ("xlsx", XLSX_KEY)):
                progress(f"inventory export --format {fmt}")
                figures["cli"][fmt] = _cli_export(url, key, fmt, Path(workdir) / f"out.{fmt}")
        with running_server(url) as base:
            for fmt, key in (("csv", CSV_KEY), ("xlsx", XLSX_KEY)):
                progress(f"the export route, {fmt}: one download, then {concurrent} at once")
                figures["api"][fmt] = [
                    _api_exports(base, token, key, fmt, 1),
                    _api_exports(base, token, key, fmt, concurrent),
                ]
    machine["load_average_at_end"] = os.getloadavg()
    figures["machine"] = machine
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--xlsx-records", type=int, default=200_000)
    parser.add_argument("--concurrent", type=int, default=3)
    parser.add_argument("--json", type=Path, help="Write the figures here too.")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    options = parser.parse_args(argv)
    figures = run_export_bench(
        records=options.records,
        xlsx_records=options.xlsx_records,
        concurrent=options.concurrent,
        keep=options.keep,
        progress=lambda label: print(label, file=sys.stderr, flush=True),
    )
    rendered = json.dumps(figures, indent=2, default=str)
    if options.json:
        options.json.write_text(rendered + "\n")
    print(rendered)


if __name__ == "__main__":
    main()
