"""The discovery flows of a partition: added from a spec, listed, updated, removed.

A flow is a spec (`contract/flow_spec.py`): mappings with units, constants, identity key,
sheet and records path. What a consultant must not find out at `run` is refused when the
flow is added: a critical field that is neither mapped nor set would reject every row.

A flow that assets came from is never deleted: `remove` marks it `removed` (hidden from
`flow list`, refusing imports) and keeps the row, so the retired assets it made still link
to their flow and the wiring stays whole. Updating a flow makes a new mappings version and
re-queues the records its old spec judged (open, or rejected in cleansing), so the next
run cleanses them again with the new one.
"""

from __future__ import annotations

import dataclasses
import difflib
import uuid

from sqlalchemy import Connection, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from wiring_pipeline.domain.contract.flow_spec import (
    FlowSpec,
    parse_flow_spec,
    parse_sets,
    spec_of,
)
from wiring_pipeline.domain.contract.states import REJECTED_PREFIX, RETIRED_PHASE
from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.core.schema import discovery_flows
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter

ACTIVE = "active"
REMOVED = "removed"


class FlowError(UserInputError):
    """A flow the partition refuses to add, find, change or remove, with the reason."""


def add_flow(
    conn: Connection,
    scope: TenantScope,
    mappings: object,
    *,
    flow_name: str | None = None,
    flow_id: uuid.UUID | None = None,
    master_flow_id: uuid.UUID | None = None,
    identity_key: list[str] | tuple[str, ...] = (),
    sets: tuple[str, ...] | list[str] = (),
    header: list[str] | None = None,
    precedence: int | None = None,
) -> dict:
    """Create a discovery flow of the partition from a spec (flat mappings or the whole form).

    `identity_key` names the source column(s) identifying an asset across imports; by
    default the spec's key, else the column mapped to `hostname`, else to `name` (DESIGN
    3a). `sets` are `FIELD=VALUE` constants. `header`, when the flow is made for a file,
    lets a refusal name the file's closest columns. `precedence` ranks the flow's values
    against other sources' for one machine (lower wins, DESIGN 3e); by default the flows
    rank in the order they were added.

    A flow_id or a name the partition already has is refused with one line. The refusal
    comes from the unique keys themselves (`ON CONFLICT DO NOTHING`), not from a read
    beforehand, so two adds at once cannot both pass a check.
    """
    spec = parse_flow_spec(mappings, sets)
    check_critical(spec, header)
    key_columns = identity_key_columns(spec, identity_key)
    flow_id = flow_id or uuid.uuid4()
    name = _flow_name(flow_name)
    row = conn.execute(
        pg_insert(discovery_flows)
        .values(
            flow_id=flow_id,
            master_flow_id=master_flow_id or uuid.uuid4(),
            client_account_id=scope.client_account_id,
            engagement_id=scope.engagement_id,
            flow_name=name,
            status=ACTIVE,
            field_mappings_version_id=uuid.uuid4(),
            identity_key_columns=key_columns,
            precedence=_precedence(precedence, scope),
            **_spec_values(spec),
        )
        .on_conflict_do_nothing()
        .returning(*discovery_flows.c)
    ).one_or_none()
    if row is None:
        taken = conn.execute(
            select(discovery_flows.c.flow_id).where(
                *scope.where(discovery_flows), discovery_flows.c.flow_id == flow_id
            )
        ).first()
        if taken is not None:
            raise FlowError(
                f"partition {scope.partition_key!r} already has a flow with flow_id {flow_id}"
            )
        raise FlowError(f"partition {scope.partition_key!r} already has a flow named {name!r}")
    return dict(row._mapping)


def check_critical(spec: FlowSpec, header: list[str] | None = None) -> None:
    """Refuse a spec that neither maps nor sets a critical field: every row would be rejected."""
    missing = spec.missing_critical()
    if not missing:
        return
    hints = []
    for name in missing:
        by_fold = {column.casefold(): column for column in header or ()}
        close = [
            by_fold[c] for c in difflib.get_close_matches(name, list(by_fold), n=2, cutoff=0.4)
        ]
        if close:
            hints.append(f"{name} (closest columns: {', '.join(map(repr, close))})")
        else:
            hints.append(name)
    raise FlowError(
        f"the flow neither maps nor sets the critical field(s) {', '.join(hints)}: every row "
        "would be rejected; map a column to each, or set a value with --set FIELD=VALUE"
    )


def identity_key_columns(spec: FlowSpec, explicit: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The flow's identity key: the columns given, the spec's, or the source of `hostname`,
    else of `name`."""
    chosen = list(explicit) or list(spec.identity_key)
    if chosen:
        blank = [column for column in chosen if not str(column).strip()]
        if blank:
            raise FlowError("an identity key column name is empty")
        if len(set(chosen)) != len(chosen):
            raise FlowError(f"identity key column(s) given twice: {', '.join(chosen)}")
        return [str(column) for column in chosen]
    for target in ("hostname", "name"):
        columns = spec.columns_of(target)
        if columns:
            return columns[:1]
    raise FlowError(
        "the mappings map no column to `hostname` or `name`: give the identity key with --key"
    )


def find_flow(conn: Connection, scope: TenantScope, flow: str) -> dict:
    """An active flow of the partition by its `flow_id`, its row id, or its name."""
    conditions = [func.lower(discovery_flows.c.flow_name) == flow.strip().lower()]
    try:
        as_uuid = uuid.UUID(flow)
    except ValueError:
        pass
    else:
        conditions += [discovery_flows.c.flow_id == as_uuid, discovery_flows.c.id == as_uuid]
    rows = conn.execute(
        select(*discovery_flows.c).where(
            *scope.where(discovery_flows),
            discovery_flows.c.status != REMOVED,
            or_(*conditions),
        )
    ).all()
    if not rows:
        raise FlowError(f"partition {scope.partition_key!r} has no discovery flow {flow!r}")
    return dict(rows[0]._mapping)


_LIST_SQL = text(
    f"""
    SELECT f.id, f.flow_id, f.flow_name, f.profile, f.field_mappings_version_id,
           f.field_mappings, f.field_units, f.field_constants, f.identity_key_columns,
           f.sheet_name, f.records_path, f.created_at, f.updated_at,
           (SELECT count(*) FROM migration.assets a
            WHERE {tenant_filter("a")} AND a.discovery_flow_id = f.id
              AND a.current_phase IS DISTINCT FROM '{RETIRED_PHASE}') AS current_assets
    FROM migration.discovery_flows f
    WHERE {tenant_filter("f")} AND f.status <> '{REMOVED}'
    ORDER BY f.created_at, f.id
    """
)


def list_flows(conn: Connection, scope: TenantScope) -> list[dict]:
    """The partition's active flows, oldest first, each with its spec and current assets."""
    listed = []
    for row in conn.execute(_LIST_SQL, scope.as_params()).mappings():
        flow = dict(row)
        listed.append(
            {
                "id": flow["id"],
                "flow_id": flow["flow_id"],
                "flow_name": flow["flow_name"],
                "field_mappings_version_id": flow["field_mappings_version_id"],
                "spec": spec_of(flow).as_json(),
                "current_assets": flow["current_assets"],
                "created_at": flow["created_at"],
                "updated_at": flow["updated_at"],
            }
        )
    return listed


#: Records of one flow that its previous spec judged and no asset holds, queued again for
#: the new spec: those it rejected are opened again, and those still waiting for the
#: inventory need nothing (their archived values are of the old spec: the cleansing
#: replaces them). Counts both.
_REQUEUE_SQL = text(
    f"""
    WITH judged AS (
        SELECT r.id, r.is_processed FROM migration.raw_import_records r
        JOIN migration.data_imports d
          ON {tenant_filter("d")} AND d.id = r.data_import_id AND d.discovery_flow_id = :flow_row_id
        JOIN migration.cleansed_record_archive c
          ON {tenant_filter("c")} AND c.raw_import_record_id = r.id
        WHERE {tenant_filter("r")} AND r.asset_id IS NULL AND r.superseded_by IS NULL
          AND (NOT r.is_processed OR r.processing_notes LIKE '{REJECTED_PREFIX}%')
    ), reopened AS (
        UPDATE migration.raw_import_records r
        SET cleansed_data = NULL, is_processed = false, processed_at = NULL,
            processing_notes = NULL
        FROM judged j
        WHERE {tenant_filter("r")} AND r.id = j.id AND j.is_processed
    )
    SELECT count(*) FROM judged
    """
)


def update_flow(
    conn: Connection,
    scope: TenantScope,
    flow_ref: str,
    *,
    mappings: object | None = None,
    sets: tuple[str, ...] | list[str] = (),
    identity_key: list[str] | tuple[str, ...] = (),
    precedence: int | None = None,
) -> tuple[dict, int]:
    """A new mappings version of a flow; returns the flow and the records re-queued.

    `mappings` replaces the spec (flat or whole form); `sets` add or replace constants;
    `identity_key` replaces the key; `precedence` re-ranks the flow against the other
    sources (alone, it changes no mapping and re-queues nothing: the caller derives the
    assets again from the stored values). Nothing given is refused: there is nothing to change.
    """
    if mappings is None and not sets and not identity_key and precedence is None:
        raise FlowError("nothing to change: give --mappings, --set, --key or --precedence")
    flow = find_flow(conn, scope, flow_ref)
    if precedence is not None:
        flow = dict(
            conn.execute(
                update(discovery_flows)
                .where(*scope.where(discovery_flows), discovery_flows.c.id == flow["id"])
                .values(precedence=_precedence(precedence, scope), updated_at=func.now())
                .returning(*discovery_flows.c)
            )
            .one()
            ._mapping
        )
        if mappings is None and not sets and not identity_key:
            return flow, 0
    if mappings is not None:
        spec = parse_flow_spec(mappings, sets)
    else:
        spec = spec_of(flow)
        if sets:
            spec = dataclasses.replace(spec, constants={**spec.constants, **parse_sets(sets)})
    check_critical(spec)
    # A new spec's own key wins; a spec without one keeps the flow's key.
    kept = identity_key or spec.identity_key or flow["identity_key_columns"]
    key_columns = identity_key_columns(spec, kept)
    row = conn.execute(
        update(discovery_flows)
        .where(*scope.where(discovery_flows), discovery_flows.c.id == flow["id"])
        .values(
            field_mappings_version_id=uuid.uuid4(),
            identity_key_columns=key_columns,
            updated_at=func.now(),
            **_spec_values(spec),
        )
        .returning(*discovery_flows.c)
    ).one()
    requeued = conn.execute(_REQUEUE_SQL, {**scope.as_params(), "flow_row_id": flow["id"]})
    return dict(row._mapping), requeued.scalar_one()


#: What a flow describes now: its current source rows (DESIGN 3e), and its legacy assets
#: that no source row names. Retiring it retires those rows, and the assets no other
#: source still describes (the others are derived again from what is left, by the caller).
_FLOW_CURRENT = f"""
    SELECT s.asset_id FROM migration.asset_sources s
    WHERE {tenant_filter("s")} AND s.discovery_flow_id = :flow_row_id
      AND s.current_phase = 'current'
    UNION
    SELECT a.id FROM migration.assets a
    WHERE {tenant_filter("a")} AND a.discovery_flow_id = :flow_row_id
      AND a.current_phase IS DISTINCT FROM '{RETIRED_PHASE}'
      AND NOT EXISTS (SELECT 1 FROM migration.asset_sources x
                      WHERE {tenant_filter("x")} AND x.asset_id = a.id)
"""
_COUNT_FLOW_CURRENT_SQL = text(f"SELECT count(*) FROM ({_FLOW_CURRENT}) AS c")
_RETIRE_FLOW_ASSETS_SQL = text(
    f"""
    WITH described AS MATERIALIZED ({_FLOW_CURRENT}),
    sources AS (
        UPDATE migration.asset_sources s SET current_phase = 'retired', updated_at = now()
        WHERE {tenant_filter("s")} AND s.discovery_flow_id = :flow_row_id
          AND s.current_phase = 'current'
    )
    UPDATE migration.assets a SET current_phase = '{RETIRED_PHASE}', updated_at = now()
    FROM described d
    WHERE {tenant_filter("a")} AND a.id = d.asset_id
      AND a.current_phase IS DISTINCT FROM '{RETIRED_PHASE}'
      AND NOT EXISTS (
          SELECT 1 FROM migration.asset_sources o
          WHERE {tenant_filter("o")} AND o.asset_id = a.id
            AND o.discovery_flow_id <> :flow_row_id AND o.current_phase = 'current')
    """
)
_FAIL_PENDING_IMPORTS_SQL = text(
    f"""
    UPDATE migration.data_imports d
    SET status = 'failed', error = 'its discovery flow was removed'
    WHERE {tenant_filter("d")} AND d.discovery_flow_id = :flow_row_id AND d.status = 'pending'
    """
)


def remove_flow(
    conn: Connection, scope: TenantScope, flow_ref: str, *, retire_assets: bool = False
) -> dict:
    """Remove a flow: refused while it has current assets, unless `retire_assets`.

    Returns what was done: the flow, assets retired, pending imports failed.
    """
    flow = find_flow(conn, scope, flow_ref)
    params = {**scope.as_params(), "flow_row_id": flow["id"]}
    current = conn.execute(_COUNT_FLOW_CURRENT_SQL, params).scalar_one()
    if current and not retire_assets:
        raise FlowError(
            f"flow {flow_ref!r} has {current} current asset(s): remove it with "
            "--retire-assets to retire them, or keep the flow"
        )
    retired = conn.execute(_RETIRE_FLOW_ASSETS_SQL, params).rowcount if current else 0
    failed = conn.execute(_FAIL_PENDING_IMPORTS_SQL, params).rowcount
    conn.execute(
        update(discovery_flows)
        .where(*scope.where(discovery_flows), discovery_flows.c.id == flow["id"])
        .values(status=REMOVED, updated_at=func.now())
    )
    return {
        "id": flow["id"],
        "flow_id": flow["flow_id"],
        "flow_name": flow["flow_name"],
        "removed": True,
        "assets_retired": retired,
        "pending_imports_failed": failed,
    }


def _precedence(precedence: int | None, scope: TenantScope):
    """The given precedence, or one past the partition's last (the order of addition)."""
    if precedence is not None:
        if not -1_000_000 <= precedence <= 1_000_000:
            raise FlowError("a precedence is a whole number from -1000000 to 1000000")
        return precedence
    return (
        select(func.coalesce(func.max(discovery_flows.c.precedence), 0) + 1)
        .where(*scope.where(discovery_flows))
        .scalar_subquery()
    )


def _spec_values(spec: FlowSpec) -> dict:
    return {
        "field_precedence": spec.field_precedence,
        "field_mappings": spec.mappings,
        "field_mapping_order": list(spec.mappings),
        "field_units": spec.units,
        "field_constants": spec.constants,
        "sheet_name": spec.sheet,
        "records_path": spec.records_path,
        "profile": spec.profile,
    }


def _flow_name(name: str | None) -> str | None:
    if name is None:
        return None
    if not name.strip() or "\x00" in name or len(name) > 200:
        raise FlowError("a flow name must be 1 to 200 characters of text")
    return name.strip()
