"""Running the app: its own engine (pool sized for the threadpool, named in
`pg_stat_activity`) under uvicorn."""

from __future__ import annotations

import uvicorn
from sqlalchemy import Engine, create_engine

from wiring_pipeline.api.app import create_app

APPLICATION_NAME = "wiring-pipeline-api"
#: Connections the API may hold; requests beyond them wait for one (at most POOL_TIMEOUT s).
POOL_SIZE = 10
POOL_TIMEOUT_SECONDS = 30
#: Longer than clients keep idle connections (httpx: 5 s), so the server is never the side
#: that closes one just as a client reuses it (a reset request). An idle connection holds
#: a socket only, never a database connection.
KEEP_ALIVE_SECONDS = 30


def api_engine(url: str, pool_size: int = POOL_SIZE) -> Engine:
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        pool_pre_ping=True,
        connect_args={"application_name": APPLICATION_NAME},
    )


def serve(url: str, host: str, port: int, access_log: bool = False) -> None:
    """Serve until interrupted; the engine's connections are closed on the way out."""
    engine = api_engine(url)
    try:
        uvicorn.run(
            create_app(engine),
            host=host,
            port=port,
            access_log=access_log,
            log_level="info",
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    finally:
        engine.dispose()
