"""The FastAPI app: the routes of DESIGN 4a over the same domain functions as the CLI.

A partition route checks access (`authorize`, a short transaction in a worker thread),
then hands its read to the partition's gate (`isolation.PartitionWork`): identical health
requests share one measurement, and one partition never holds more than its share of the
pool. The read, in `tenant_read`, finishes before the route returns: the response is sent
after the connection is back in the pool. The export alone is sent while it is read, from a
spool that never waits for the client (`api/streaming.py`).

The reconciliation routes (`assets/coverage`, `assets/conflicts`, `assets/matches`) answer
what `inventory coverage|conflicts|matches` print, from the same functions. They are fixed
paths under `/assets/`: a route with a parameter there (`/assets/{asset_id}`) must be
declared after them, or it would take their names for ids.
"""

from __future__ import annotations

from typing import Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from wiring_pipeline.api import errors, prometheus
from wiring_pipeline.api.access import (
    authorize,
    authorize_admin,
    bearer_token,
    engine_of,
    tenant_read,
)
from wiring_pipeline.api.isolation import CHECK_CONCURRENCY, PARTITION_CONCURRENCY, PartitionWork
from wiring_pipeline.api.streaming import Spool
from wiring_pipeline.domain.core.tenancy import SLUG_PATTERN, TenantScope
from wiring_pipeline.domain.health.measure import measure_wiring_health
from wiring_pipeline.domain.health.snapshots import latest_snapshots
from wiring_pipeline.domain.inventory.export import MEDIA_TYPES, export_inventory
from wiring_pipeline.domain.inventory.listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    list_inventory_assets,
)
from wiring_pipeline.domain.inventory.reconciliation_report import (
    MAX_ROWS,
    conflicts,
    coverage,
    match_candidates,
)


class ErrorBody(BaseModel):
    detail: str


def _error(description: str) -> dict:
    return {"model": ErrorBody, "description": description}


UNAUTHORIZED = {401: _error("No bearer token, or an unknown or revoked one.")}
PARTITION_ERRORS = {
    **UNAUTHORIZED,
    403: _error(
        "The token's scope does not include the partition's tenant; the same answer "
        "whether or not the partition exists."
    ),
    404: _error("The partition is inside the token's scope but does not exist."),
    422: {"description": "A malformed partition key or query parameter."},
    503: _error("The database is busy (a lock or statement timeout): retry (`Retry-After`)."),
}
#: The gate's name for the fleet view: no partition key can be spelled so.
FLEET = "(fleet)"
# The key's form is checked after the token (a malformed key is 422 for a valid token
# only), so the pattern is documented rather than enforced by the framework.
PARTITION_KEY = Path(
    description=f"`<client_slug>.<engagement_slug>`, each `{SLUG_PATTERN.pattern}`",
    examples=["acme.dc-exit"],
)

router = APIRouter()


async def work_of(request: Request) -> PartitionWork:
    return request.app.state.isolation


async def checked_scope(
    request: Request,
    key: str = PARTITION_KEY,
    token: str = Depends(bearer_token),
    engine: Engine = Depends(engine_of),
) -> TenantScope:
    """The partition the request may read (401, 422, 403 or 404 otherwise), checked in a
    worker thread behind the key's own gate of checks."""
    return await request.app.state.checks.run(key, lambda: authorize(engine, token, key))


@router.get(
    "/healthz",
    tags=["service"],
    responses={503: {"description": "The database does not answer."}},
)
def healthz(engine: Engine = Depends(engine_of)) -> dict:
    """The service and its database are up (no token needed)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return {"status": "ok"}


@router.get(
    "/api/v1/partitions/{key}/health/wiring",
    tags=["partitions"],
    responses={200: {"description": "The source plan's shape (see `wiring-pipeline health`)."}}
    | PARTITION_ERRORS,
)
async def wiring_health(
    detail: bool = Query(False, description="Up to 5 sample rows per non-zero metric."),
    scope: TenantScope = Depends(checked_scope),
    engine: Engine = Depends(engine_of),
    work: PartitionWork = Depends(work_of),
) -> dict:
    """The partition's seven wiring metrics, measured now: metrics, health_status, tenant,
    samples. Identical requests arriving during a measurement share it."""

    def measure() -> dict:
        with tenant_read(engine, scope) as conn:
            return measure_wiring_health(conn, scope, detail=detail).as_json()

    flight = ("health", scope.partition_key, detail)
    return await work.shared(scope.partition_key, flight, measure)


@router.get(
    "/api/v1/partitions/{key}/assets",
    tags=["partitions"],
    responses={200: {"description": "One page of assets."}} | PARTITION_ERRORS,
)
async def list_assets(
    scope: TenantScope = Depends(checked_scope),
    page: int = Query(1, ge=1, le=MAX_PAGE, description="Past the last page: no items."),
    page_size: int = Query(
        DEFAULT_PAGE_SIZE, ge=1, description=f"Cut to {MAX_PAGE_SIZE} (`page_size_capped`)."
    ),
    all_methods: bool = Query(
        False, alias="all", description="Every discovery method, not only flow-based."
    ),
    include_retired: bool = Query(False, description="Also assets gone from the source."),
    engine: Engine = Depends(engine_of),
    work: PartitionWork = Depends(work_of),
) -> dict:
    """One page of the partition's inventory, oldest first: the plan's frontend listing."""

    def read():
        with tenant_read(engine, scope) as conn:
            return list_inventory_assets(
                conn,
                scope,
                all_methods=all_methods,
                page=page,
                page_size=page_size,
                include_retired=include_retired,
            )

    listing = await work.run(scope.partition_key, read)
    return {
        "items": listing.items,
        "page": listing.page,
        "page_size": listing.page_size,
        "total": listing.total,
        "pages": listing.pages,
        "page_size_capped": listing.notice is not None,
        "partition": listing.scope.partition_key,
        "discovery_method": "all" if all_methods else "flow_based",
    }


#: `inventory conflicts|matches --limit`'s default and bounds.
DEFAULT_LIMIT = 100
LIMIT = Query(DEFAULT_LIMIT, ge=1, le=MAX_ROWS, description=f"At most {MAX_ROWS} rows.")


async def _gated_read(engine: Engine, work: PartitionWork, scope: TenantScope, read):
    """`read(conn)` in the request's tenant read, behind the partition's gate."""

    def run():
        with tenant_read(engine, scope) as conn:
            return read(conn)

    return await work.run(scope.partition_key, run)


@router.get(
    "/api/v1/partitions/{key}/assets/coverage",
    tags=["reconciliation"],
    responses={200: {"description": "Current assets per combination of sources."}}
    | PARTITION_ERRORS,
)
async def assets_coverage(
    scope: TenantScope = Depends(checked_scope),
    engine: Engine = Depends(engine_of),
    work: PartitionWork = Depends(work_of),
) -> dict:
    """How many current assets each combination of sources describes, with samples: the
    servers the CMDB does not know, the CMDB entries nothing runs (`inventory coverage`)."""
    return await _gated_read(engine, work, scope, lambda conn: coverage(conn, scope))


@router.get(
    "/api/v1/partitions/{key}/assets/conflicts",
    tags=["reconciliation"],
    responses={200: {"description": "Fields on which an asset's sources disagree."}}
    | PARTITION_ERRORS,
)
async def assets_conflicts(
    scope: TenantScope = Depends(checked_scope),
    limit: int = LIMIT,
    engine: Engine = Depends(engine_of),
    work: PartitionWork = Depends(work_of),
) -> list:
    """Each field on which an asset's current sources disagree: every source's value and
    the one kept, by asset name (`inventory conflicts`)."""
    return await _gated_read(engine, work, scope, lambda conn: conflicts(conn, scope, limit))


@router.get(
    "/api/v1/partitions/{key}/assets/matches",
    tags=["reconciliation"],
    responses={200: {"description": "Open match candidates, oldest first."}} | PARTITION_ERRORS,
)
async def assets_matches(
    scope: TenantScope = Depends(checked_scope),
    limit: int = LIMIT,
    engine: Engine = Depends(engine_of),
    work: PartitionWork = Depends(work_of),
) -> list:
    """Possible matches across sources that the rules left for a person to decide
    (`inventory matches`; `inventory merge` confirms one)."""
    return await _gated_read(engine, work, scope, lambda conn: match_candidates(conn, scope, limit))


@router.get(
    "/api/v1/partitions/{key}/assets/export",
    tags=["partitions"],
    response_class=Response,
    responses={
        200: {
            "description": "Every asset with every inventory field and its provenance, as a"
            " file, streamed as it is read.",
            "content": {media: {} for media in MEDIA_TYPES.values()},
        },
        **PARTITION_ERRORS,
    },
)
async def export_assets(
    fmt: Literal["csv", "xlsx"] = Query("csv", alias="format"),
    include_retired: bool = Query(False),
    scope: TenantScope = Depends(checked_scope),
    engine: Engine = Depends(engine_of),
    work: PartitionWork = Depends(work_of),
) -> Response:
    """The deliverable: the inventory with import file, source row, flow, mapping hash,
    current record and sources of each asset; as XLSX, with a `conflicts` sheet (a CSV
    download is the inventory alone: one file, one table).

    Read behind the partition's gate, in the request's tenant read, into a spool that the
    response sends at the client's pace (`api/streaming.py`): the connection goes back when
    the last row is read, or when the client goes away, never at the client's pace. Too
    many assets for one XLSX sheet is a 422 before any byte is sent."""

    def produce(out) -> None:
        with tenant_read(engine, scope, snapshot=True) as conn:
            export_inventory(conn, scope, fmt, out, include_retired=include_retired)

    spool = await Spool.start(lambda job: work.run(scope.partition_key, job), produce)
    filename = f"{scope.partition_key}-inventory.{fmt}"
    return spool.response(
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/metrics",
    tags=["service"],
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format, from every partition's latest snapshot.",
            "content": {prometheus.CONTENT_TYPE: {}},
        },
        **UNAUTHORIZED,
        403: _error("The token is not an admin token."),
    },
)
async def metrics(
    token: str = Depends(bearer_token),
    engine: Engine = Depends(engine_of),
    work: PartitionWork = Depends(work_of),
) -> Response:
    """`wiring_metric{partition,metric}`, `wiring_partition_healthy{partition}` and
    `wiring_snapshot_timestamp_seconds{partition}`."""
    await anyio.to_thread.run_sync(authorize_admin, engine, token)  # no partition to gate

    def read() -> str:
        with tenant_read(engine, None) as conn:
            return prometheus.render_metrics(latest_snapshots(conn))

    body = await work.run(FLEET, read)
    return Response(body, media_type=prometheus.CONTENT_TYPE)


def create_app(engine: Engine, *, partition_concurrency: int = PARTITION_CONCURRENCY) -> FastAPI:
    """The app on `engine`, which should log in as the API role (`server.verify_login`);
    at most `partition_concurrency` reads of one partition run at a time."""
    app = FastAPI(
        title="wiring-pipeline",
        summary="Wiring health, inventory and its export per tenant partition.",
        version="1",
    )
    app.state.engine = engine
    app.state.isolation = PartitionWork(partition_concurrency)
    app.state.checks = PartitionWork(CHECK_CONCURRENCY)
    app.include_router(router)
    errors.install(app)
    return app
