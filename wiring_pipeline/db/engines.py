"""Engines and migrations: how the pipeline reaches its database and brings its schema up.

Upgrades and downgrades run in a transaction of their own; nothing here is a unit of work on
a partition (that is `transactions.py`).
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, text

MIGRATIONS_DIR = Path(__file__).parent.parent / "migrations"


@functools.lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """One pooled engine per URL and process."""
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(connection=conn), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT to_regclass('migration.alembic_version')")).scalar()
        if exists is None:
            return None
        return conn.execute(text("SELECT version_num FROM migration.alembic_version")).scalar()
