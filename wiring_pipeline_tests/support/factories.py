"""Small builders of tenants and flows for tests; each writes through the domain API."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.domain.core.tenancy import TenantScope
from wiring_pipeline.domain.ingest.flows import add_flow
from wiring_pipeline.domain.ingest.registry import add_tenant
from wiring_pipeline.samples.cmdb_generator import CMDB_FIELD_MAPPINGS


def make_tenant(engine: Engine, key: str) -> TenantScope:
    with engine.begin() as conn:
        scope, _ = add_tenant(conn, key)
    return scope


def make_flow(engine: Engine, scope: TenantScope, **kwargs) -> dict:
    with engine.begin() as conn:
        return add_flow(conn, scope, kwargs.pop("mappings", CMDB_FIELD_MAPPINGS), **kwargs)


#: A flow whose only column is `Name`; the other critical fields are constants, so it is valid.
NAME_ONLY = {
    "mappings": {"Name": "name"},
    "constants": {"asset_type": "server", "environment": "production"},
}


def make_name_only_tenant(engine: Engine, key: str) -> tuple[TenantScope, dict]:
    """A tenant of `key` with a `NAME_ONLY` flow: files of a `Name` column and anything else."""
    scope = make_tenant(engine, key)
    return scope, make_flow(engine, scope, mappings=NAME_ONLY)


@contextmanager
def partition_held(engine: Engine, key: str, seconds: float = 30) -> Iterator[threading.Thread]:
    """Another thread holds the partition's unit of work (and its lock) until the block ends.

    Yields that thread: while it is alive, the partition is held. It lets go after `seconds`
    at the latest, so a test that waits for the lock by mistake sees it released, not a hang.
    """
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with partition_transaction(engine, key):
            holding.set()
            release.wait(seconds)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10), f"could not take partition {key!r}"
        yield holder
    finally:
        release.set()
        holder.join()
