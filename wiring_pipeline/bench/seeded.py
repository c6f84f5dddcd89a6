"""A throwaway database with a seed in it, ready for readers: what every read benchmark
starts from."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, text

from wiring_pipeline.bench.environment import throwaway_database
from wiring_pipeline.db import engines
from wiring_pipeline.resources import embedded


@contextmanager
def seeded_database(seed: Callable[[Connection], None], keep: bool) -> Iterator[tuple[str, Engine]]:
    """A new database on the configured server, migrated to head, with `seed(conn)` run in
    one transaction and the tables vacuumed and analyzed (what autovacuum does on a live
    server between the load and the readers); its URL and an engine of the owner's.
    Dropped afterwards unless `keep`."""
    with throwaway_database(embedded.application_database_url(), keep) as url:
        engine = create_engine(url)
        try:
            engines.upgrade(engine)
            with engine.begin() as conn:
                seed(conn)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE migration.raw_import_records, migration.assets"))
            yield url, engine
        finally:
            engine.dispose()
