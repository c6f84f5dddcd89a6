"""Weekly CMDB exports of one small estate, for the re-import tests (DESIGN 3a)."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import Engine, text

from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.domain.core.tenancy import TenantScope
from wiring_pipeline.domain.ingest.registry import register_import

MAPPINGS = {
    "Asset Name": "name",
    "CI Class": "asset_type",
    "Environment": "environment",
    "Hostname": "hostname",
    "Memory (GB)": "memory_gb",
    "Owner": "owner",
}
COLUMNS = [*MAPPINGS, "Rack"]


def server(number: int, memory: int = 16, owner: str = "j.smith") -> dict[str, str]:
    return {
        "Asset Name": f"srv{number:02d}",
        "CI Class": "Server",
        "Environment": "Production",
        "Hostname": f"srv{number:02d}.corp.example",
        "Memory (GB)": str(memory),
        "Owner": owner,
        "Rack": f"R{number}",
    }


def week_one() -> list[dict[str, str]]:
    """Twenty servers."""
    return [server(n) for n in range(1, 21)]


def week_two() -> list[dict[str, str]]:
    """Servers 1-3 decommissioned, 4-8 given more memory, 21-23 new; the rest as before.

    The hostnames of the unchanged ones come with stray blanks, which neither the identity
    key nor the cleansed values keep.
    """
    rows = [server(n, memory=32) for n in range(4, 9)]
    rows += [{**server(n), "Hostname": f"  srv{n:02d}.corp.example "} for n in range(9, 21)]
    return rows + [server(n) for n in range(21, 24)]


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def register(
    engine: Engine, scope: TenantScope, flow: dict, path: Path, *, partial: bool = False
) -> dict:
    with engine.begin() as conn:
        return register_import(conn, scope, flow, path, path.parent / "imports", partial=partial)


def assets_by_hostname(engine: Engine, scope: TenantScope) -> dict[str, dict]:
    """The partition's assets keyed by lower-cased hostname."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT * FROM migration.assets
                WHERE client_account_id = :client_account_id AND engagement_id = :engagement_id
                """
            ),
            scope.as_params(),
        ).all()
    return {row.hostname.lower(): dict(row._mapping) for row in rows}


def with_partition(engine: Engine, key: str, step):
    with partition_transaction(engine, key) as work:
        return step(work.conn, work.scope)
