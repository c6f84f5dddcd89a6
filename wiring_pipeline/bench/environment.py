"""Where a benchmark runs: a throwaway database, and the machine and server it ran on.

Recorded beside the figures, so that a reader can judge them (and compare like with like).
"""

from __future__ import annotations

import os
import platform
import resource
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, create_engine, make_url, text


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def throwaway_database(base_url: str, keep: bool) -> Iterator[str]:
    """A new database on the server of `base_url`, dropped afterwards unless `keep`."""
    base = make_url(base_url)
    name = f"wiring_bench_{secrets.token_hex(4)}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            if not keep:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


#: Server settings that move the figures most, recorded with them.
_SERVER_SETTINGS = ("shared_buffers", "work_mem", "max_wal_size", "synchronous_commit", "jit")


def machine_info(conn: Connection) -> dict:
    """What a reader needs to judge the figures: cores, memory, CPU and server version."""
    cpu_model = None
    with Path("/proc/cpuinfo").open() as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    ram_kb = None
    with Path("/proc/meminfo").open() as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                ram_kb = int(line.split()[1])
                break
    return {
        "cores": os.cpu_count(),
        "ram_gb": round(ram_kb / 1024 / 1024, 1) if ram_kb else None,
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgresql": conn.execute(text("SELECT version()")).scalar_one(),
        "postgresql_settings": {
            name: conn.execute(text(f"SHOW {name}")).scalar_one() for name in _SERVER_SETTINGS
        },
        "load_average_at_start": os.getloadavg(),
    }
