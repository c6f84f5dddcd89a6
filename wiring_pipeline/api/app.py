"""The FastAPI app: the routes of DESIGN 4a over the same domain functions as the CLI.

Every route is a plain (threadpool) function that finishes its database work, inside
`partition_read` or `fleet_read`, before it returns: the response is sent after the
connection is back in the pool.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from wiring_pipeline.api import prometheus
from wiring_pipeline.api.access import bearer_token, engine_of, fleet_read, partition_read
from wiring_pipeline.domain.core.tenancy import SLUG_PATTERN
from wiring_pipeline.domain.health.measure import measure_wiring_health
from wiring_pipeline.domain.health.snapshots import latest_snapshots
from wiring_pipeline.domain.inventory.export import (
    MEDIA_TYPES,
    ExportError,
    export_bytes,
    inventory_frame,
)
from wiring_pipeline.domain.inventory.listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    list_inventory_assets,
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
}
# The key's form is checked after the token (a malformed key is 422 for a valid token
# only), so the pattern is documented rather than enforced by the framework.
PARTITION_KEY = Path(
    description=f"`<client_slug>.<engagement_slug>`, each `{SLUG_PATTERN.pattern}`",
    examples=["acme.dc-exit"],
)

router = APIRouter()


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
def wiring_health(
    key: str = PARTITION_KEY,
    detail: bool = Query(False, description="Up to 5 sample rows per non-zero metric."),
    token: str = Depends(bearer_token),
    engine: Engine = Depends(engine_of),
) -> dict:
    """The partition's seven wiring metrics, measured now: metrics, health_status, tenant,
    samples."""
    with partition_read(engine, token, key) as work:
        report = measure_wiring_health(work.conn, work.scope, detail=detail)
    return report.as_json()


@router.get(
    "/api/v1/partitions/{key}/assets",
    tags=["partitions"],
    responses={200: {"description": "One page of assets."}} | PARTITION_ERRORS,
)
def list_assets(
    key: str = PARTITION_KEY,
    page: int = Query(1, ge=1),
    page_size: int = Query(
        DEFAULT_PAGE_SIZE, ge=1, description=f"Cut to {MAX_PAGE_SIZE} (`page_size_capped`)."
    ),
    all_methods: bool = Query(
        False, alias="all", description="Every discovery method, not only flow-based."
    ),
    include_retired: bool = Query(False, description="Also assets gone from the source."),
    token: str = Depends(bearer_token),
    engine: Engine = Depends(engine_of),
) -> dict:
    """One page of the partition's inventory, oldest first: the plan's frontend listing."""
    with partition_read(engine, token, key) as work:
        listing = list_inventory_assets(
            work.conn,
            work.scope,
            all_methods=all_methods,
            page=page,
            page_size=page_size,
            include_retired=include_retired,
        )
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


@router.get(
    "/api/v1/partitions/{key}/assets/export",
    tags=["partitions"],
    response_class=Response,
    responses={
        200: {
            "description": "Every asset with its provenance, as a file.",
            "content": {media: {} for media in MEDIA_TYPES.values()},
        },
        **PARTITION_ERRORS,
    },
)
def export_assets(
    key: str = PARTITION_KEY,
    fmt: Literal["csv", "xlsx"] = Query("csv", alias="format"),
    include_retired: bool = Query(False),
    token: str = Depends(bearer_token),
    engine: Engine = Depends(engine_of),
) -> Response:
    """The deliverable: the inventory with import file, source row, flow, mapping hash and
    current record of each asset."""
    with partition_read(engine, token, key) as work:
        frame = inventory_frame(work.conn, work.scope, include_retired=include_retired)
    try:
        content = export_bytes(frame, fmt)
    except ExportError as error:
        # Too many assets for one XLSX sheet: the format asked for cannot hold them.
        raise HTTPException(status_code=422, detail=str(error)) from error
    filename = f"{key}-inventory.{fmt}"
    return Response(
        content,
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
def metrics(token: str = Depends(bearer_token), engine: Engine = Depends(engine_of)) -> Response:
    """`wiring_metric{partition,metric}`, `wiring_partition_healthy{partition}` and
    `wiring_snapshot_timestamp_seconds{partition}`."""
    with fleet_read(engine, token) as conn:
        snapshots = latest_snapshots(conn)
    return Response(prometheus.render_metrics(snapshots), media_type=prometheus.CONTENT_TYPE)


def create_app(engine: Engine) -> FastAPI:
    app = FastAPI(
        title="wiring-pipeline",
        summary="Wiring health, inventory and its export per tenant partition.",
        version="1",
    )
    app.state.engine = engine
    app.include_router(router)
    return app
