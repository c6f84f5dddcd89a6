"""Paged listing of a partition's inventory assets: the source plan's "frontend toggle".

By default only flow-based assets are listed (what the discovery flow produced); every
discovery method on request. The page size is capped so that one request cannot pull a
whole partition; the cap is reported, never applied silently. Pages are bounded too
(`MAX_PAGE`), so no request turns into an OFFSET PostgreSQL cannot hold (a bigint), and a
page past the last one is an empty page, answered from the count alone.

Each asset carries its sources (DESIGN 3e): every flow that describes it, in precedence
order, with the rule its record matched on and whether that source still has it, so a
reader sees why two names are one machine. They come in one query per page.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Text, and_, cast, func, select

from wiring_pipeline.domain.contract.states import RETIRED_PHASE
from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.core.schema import asset_sources, assets, discovery_flows
from wiring_pipeline.domain.core.tenancy import TenantScope

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
#: Far beyond any partition (200 billion assets at the largest page size), far inside a bigint.
MAX_PAGE = 1_000_000_000
_COLUMNS = (
    assets.c.id,
    assets.c.name,
    assets.c.asset_type,
    assets.c.environment,
    assets.c.discovery_method,
    assets.c.current_phase,
    assets.c.discovery_flow_id,
    assets.c.raw_import_records_id,
    assets.c.created_at,
)


class InventoryListingError(UserInputError):
    """A page request that cannot be served (page or page size below 1, page past MAX_PAGE)."""


@dataclass(frozen=True)
class InventoryPage:
    scope: TenantScope
    all_methods: bool
    page: int
    page_size: int
    total: int
    items: list[dict]
    #: Set when the requested page size was above MAX_PAGE_SIZE and was lowered.
    notice: str | None = None

    @property
    def pages(self) -> int:
        return -(-self.total // self.page_size)

    def as_json(self) -> dict:
        return {
            "partition": self.scope.partition_key,
            "discovery_method": "all" if self.all_methods else "flow_based",
            "page": self.page,
            "page_size": self.page_size,
            "pages": self.pages,
            "total": self.total,
            "notice": self.notice,
            "assets": self.items,
        }


def cap_page_size(page_size: int) -> tuple[int, str | None]:
    if page_size < 1:
        raise InventoryListingError(f"page size {page_size} is invalid: it must be at least 1")
    if page_size > MAX_PAGE_SIZE:
        return MAX_PAGE_SIZE, (
            f"page size {page_size} is above the maximum of {MAX_PAGE_SIZE}; "
            f"showing {MAX_PAGE_SIZE} per page"
        )
    return page_size, None


def list_inventory_assets(
    conn: Connection,
    scope: TenantScope,
    *,
    all_methods: bool = False,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    include_retired: bool = False,
) -> InventoryPage:
    """One page of the partition's current inventory assets (retired ones too on request),
    oldest first."""
    if not 1 <= page <= MAX_PAGE:
        raise InventoryListingError(f"page {page} is invalid: pages run from 1 to {MAX_PAGE:,}")
    size, notice = cap_page_size(page_size)
    conditions = [
        *scope.where(assets),
    ]
    if not all_methods:
        conditions.append(assets.c.discovery_method == "flow_based")
    if not include_retired:
        conditions.append(assets.c.current_phase.is_distinct_from(RETIRED_PHASE))
    total = conn.execute(select(func.count()).select_from(assets).where(*conditions)).scalar_one()
    offset = (page - 1) * size
    rows = []
    if offset < total:  # past the last page there is nothing to skip through
        rows = conn.execute(
            select(*_COLUMNS)
            .where(*conditions)
            .order_by(assets.c.created_at, assets.c.id)
            .limit(size)
            .offset(offset)
        ).all()
    sources = _sources_of(conn, scope, [row.id for row in rows])
    items = [
        {
            key: (str(value) if key.endswith("id") and value is not None else value)
            for key, value in row._mapping.items()
        }
        | {"created_at": row.created_at.isoformat(), "sources": sources.get(row.id, [])}
        for row in rows
    ]
    return InventoryPage(scope, all_methods, page, size, total, items, notice)


def _sources_of(conn: Connection, scope: TenantScope, asset_ids: list) -> dict:
    """Each asset's source rows, highest precedence first, for a whole page at once.

    A source row whose flow is gone still shows (its flow None), as the export keeps a
    broken link's row: the listing shows what the wiring metrics count."""
    if not asset_ids:
        return {}
    s = asset_sources.alias("s")
    f = discovery_flows.alias("f")
    rows = conn.execute(
        select(
            s.c.asset_id,
            func.coalesce(f.c.flow_name, cast(f.c.flow_id, Text)).label("flow"),
            s.c.discovery_flow_id,
            s.c.matched_on,
            s.c.current_phase,
            s.c.raw_import_record_id,
        )
        .select_from(s.outerjoin(f, and_(*scope.where(f), f.c.id == s.c.discovery_flow_id)))
        .where(*scope.where(s), s.c.asset_id.in_(asset_ids))
        .order_by(s.c.asset_id, f.c.precedence, f.c.id, s.c.created_at, s.c.id)
    )
    found: dict = {}
    for row in rows:
        found.setdefault(row.asset_id, []).append(
            {
                "flow": row.flow,
                "flow_id": _text(row.discovery_flow_id),
                "matched_on": row.matched_on,
                "current": row.current_phase != RETIRED_PHASE,
                "raw_import_record_id": _text(row.raw_import_record_id),
            }
        )
    return found


def _text(value) -> str | None:
    return None if value is None else str(value)
