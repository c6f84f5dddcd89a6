"""A person corrects the matching: merge two assets into one, split a source off, undo.

`inventory merge KEEP OTHER` says two assets are one machine (a candidate confirmed, or a
match the rules could not see); `inventory split ASSET --flow F` says a source's record is
another machine. Both run in the caller's transaction, move source rows, raw-record links
and history as set-based statements, derive the assets again from their sources' stored
values, and record in `asset_reconciliations` the rows as they were, so that `undo` puts
the partition back exactly, unless the sources moved have changed since (a later run
re-imported them), as a backfill's undo refuses.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import Connection, text

from wiring_pipeline.domain.contract.states import INVENTORY_PHASE, RETIRED_PHASE
from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter
from wiring_pipeline.domain.inventory.build import rederive_assets
from wiring_pipeline.domain.inventory.matching import MERGED, NEW_ASSET
from wiring_pipeline.domain.inventory.writes import FIELDS, typed


class CorrectionError(UserInputError):
    """A merge, split or undo that would not make sense (one line, exit 2)."""


def _asset_row(conn: Connection, scope: TenantScope, asset_id: uuid.UUID) -> dict:
    row = conn.execute(
        text(
            f"SELECT to_jsonb(a) AS row FROM migration.assets a "
            f"WHERE {tenant_filter('a')} AND a.id = :id FOR UPDATE"
        ),
        {**scope.as_params(), "id": asset_id},
    ).scalar()
    if row is None:
        raise CorrectionError(f"partition {scope.partition_key!r} has no asset {asset_id}")
    return row


def _sources_of(conn: Connection, scope: TenantScope, asset_id, flow_id=None) -> list[dict]:
    flow = "AND s.discovery_flow_id = :flow" if flow_id else ""
    return [
        dict(row._mapping)
        for row in conn.execute(
            text(
                f"SELECT s.id::text AS id, s.discovery_flow_id::text AS flow,"
                f" s.raw_import_record_id::text AS record, s.matched_on"
                f" FROM migration.asset_sources s"
                f" WHERE {tenant_filter('s')} AND s.asset_id = :asset {flow} ORDER BY s.id"
            ),
            {**scope.as_params(), "asset": asset_id, "flow": flow_id},
        )
    ]


def _ids(conn: Connection, scope: TenantScope, sql: str, **params) -> list[str]:
    return [str(v) for v in conn.execute(text(sql), {**scope.as_params(), **params}).scalars()]


def _history_mark(conn: Connection, scope: TenantScope) -> int:
    """The partition's last history row: what a correction derives comes after it."""
    return conn.execute(
        text(
            "SELECT coalesce(max(h.id), 0) FROM migration.asset_history h"
            f" WHERE {tenant_filter('h')}"
        ),
        scope.as_params(),
    ).scalar()


def _move(
    conn: Connection, scope: TenantScope, table: str, column: str, ids: list[str], to
) -> None:
    conn.execute(
        text(
            f"UPDATE migration.{table} t SET {column} = :to"
            f" WHERE {tenant_filter('t')} AND t.id::text = ANY(CAST(:ids AS text[]))"
        ),
        {**scope.as_params(), "to": to, "ids": ids},
    )


def _record(conn: Connection, scope: TenantScope, action: str, asset, other, state) -> int:
    return conn.execute(
        text(
            "INSERT INTO migration.asset_reconciliations (client_account_id, engagement_id,"
            " action, asset_id, other_asset_id, before_state) VALUES (:client_account_id,"
            " :engagement_id, :action, :asset, :other, CAST(:state AS jsonb)) RETURNING id"
        ),
        {
            **scope.as_params(),
            "action": action,
            "asset": asset,
            "other": other,
            "state": json.dumps(state, default=str),
        },
    ).scalar()


def _derived_history(conn: Connection, scope: TenantScope, mark: int, assets) -> list[str]:
    return _ids(
        conn,
        scope,
        f"SELECT h.id FROM migration.asset_history h WHERE {tenant_filter('h')}"
        " AND h.id > :mark AND h.asset_id::text = ANY(CAST(:assets AS text[]))",
        mark=mark,
        assets=[str(a) for a in assets],
    )


def merge_assets(conn: Connection, scope: TenantScope, keep: uuid.UUID, other: uuid.UUID) -> dict:
    """Make `other` part of `keep`: its sources, records and history move, it goes."""
    if keep == other:
        raise CorrectionError("an asset cannot be merged with itself")
    keep_row, other_row = _asset_row(conn, scope, keep), _asset_row(conn, scope, other)
    sources = _sources_of(conn, scope, other)
    shared = {s["flow"] for s in sources} & {s["flow"] for s in _sources_of(conn, scope, keep)}
    if shared:
        raise CorrectionError(
            f"assets {keep} and {other} both have a record of flow {sorted(shared)[0]}: one "
            "source describes them as two machines, so they are not merged"
        )
    records = _ids(
        conn, scope,
        f"SELECT r.id FROM migration.raw_import_records r WHERE {tenant_filter('r')}"
        " AND r.asset_id = :other", other=other,
    )  # fmt: skip
    history = _ids(
        conn, scope,
        f"SELECT h.id FROM migration.asset_history h WHERE {tenant_filter('h')}"
        " AND h.asset_id = :other", other=other,
    )  # fmt: skip
    candidates = [
        row
        for row in conn.execute(
            text(
                f"SELECT to_jsonb(m) FROM migration.match_candidates m WHERE {tenant_filter('m')}"
                " AND (m.asset_id = :other OR m.candidate_asset_id = :other)"
            ),
            {**scope.as_params(), "other": other},
        ).scalars()
    ]
    conflicts = list(
        conn.execute(
            text(
                f"SELECT to_jsonb(x) FROM migration.asset_conflicts x WHERE {tenant_filter('x')}"
                " AND x.asset_id IN (:other, :keep)"
            ),
            {**scope.as_params(), "other": other, "keep": keep},
        ).scalars()
    )
    mark = _history_mark(conn, scope)
    _move(conn, scope, "raw_import_records", "asset_id", records, keep)
    _move(conn, scope, "asset_history", "asset_id", history, keep)
    _move(conn, scope, "asset_sources", "asset_id", [s["id"] for s in sources], keep)
    _move(conn, scope, "asset_sources", "matched_on", [s["id"] for s in sources], MERGED)
    params = {**scope.as_params(), "other": other, "keep": keep}
    conn.execute(
        text(
            f"UPDATE migration.match_candidates m SET status = 'merged', decided_at = now()"
            f" WHERE {tenant_filter('m')} AND m.status = 'open' AND ("
            " (m.asset_id = :other AND m.candidate_asset_id = :keep)"
            " OR (m.asset_id = :keep AND m.candidate_asset_id = :other))"
        ),
        params,
    )
    for table, where in (
        ("match_candidates", "t.asset_id = :other OR t.candidate_asset_id = :other"),
        ("asset_conflicts", "t.asset_id IN (:other, :keep)"),
        ("assets", "t.id = :other"),
    ):
        conn.execute(
            text(f"DELETE FROM migration.{table} t WHERE {tenant_filter('t')} AND ({where})"),
            params,
        )
    rederive_assets(conn, scope, [keep])
    state = {
        "keep": keep_row,
        "other": other_row,
        "sources": sources,
        "records": records,
        "history": history,
        "candidates": candidates,
        "conflicts": conflicts,
        "derived_history": _derived_history(conn, scope, mark, [keep]),
    }
    merge_id = _record(conn, scope, "merge", keep, other, state)
    return {
        "id": merge_id,
        "action": "merge",
        "kept": str(keep),
        "merged": str(other),
        "sources_moved": len(sources),
        "records_relinked": len(records),
    }


_SPLIT_ASSET_SQL = f"""
INSERT INTO migration.assets
    (client_account_id, engagement_id, {", ".join(FIELDS)}, identity_key, discovery_flow_id,
     master_flow_id, raw_import_records_id, field_mappings_used, source_phase, current_phase,
     discovery_method, discovery_source, discovery_timestamp, custom_attributes)
SELECT :client_account_id, :engagement_id, {", ".join(typed(f) for f in FIELDS)},
       s.identity_key, s.discovery_flow_id, f.master_flow_id, s.raw_import_record_id,
       a.field_mappings_used, '{INVENTORY_PHASE}',
       CASE WHEN s.current_phase = 'current' THEN '{INVENTORY_PHASE}' ELSE '{RETIRED_PHASE}' END,
       a.discovery_method, a.discovery_source, now(), a.custom_attributes
FROM migration.asset_sources s
JOIN migration.discovery_flows f ON {tenant_filter("f")} AND f.id = s.discovery_flow_id
JOIN migration.cleansed_record_archive c
  ON {tenant_filter("c")} AND c.raw_import_record_id = s.raw_import_record_id
JOIN migration.assets a ON {tenant_filter("a")} AND a.id = :asset
WHERE {tenant_filter("s")} AND s.id = :source
RETURNING id
"""


def split_asset(conn: Connection, scope: TenantScope, asset: uuid.UUID, flow_row_id) -> dict:
    """Take flow `flow_row_id`'s source row (and its records) off `asset`, as a machine of its
    own; the next run leaves them apart (the source row keeps its key)."""
    asset_row = _asset_row(conn, scope, asset)
    everything = _sources_of(conn, scope, asset)
    [source] = [s for s in everything if s["flow"] == str(flow_row_id)] or [None]
    if source is None:
        raise CorrectionError(f"asset {asset} has no record of flow {flow_row_id}")
    if len(everything) < 2:
        raise CorrectionError(f"asset {asset} has one source only: nothing to split off")
    records = _ids(
        conn, scope,
        f"SELECT r.id FROM migration.raw_import_records r"
        f" JOIN migration.data_imports d ON {tenant_filter('d')} AND d.id = r.data_import_id"
        f" WHERE {tenant_filter('r')} AND r.asset_id = :asset AND d.discovery_flow_id = :flow",
        asset=asset, flow=flow_row_id,
    )  # fmt: skip
    conflicts = list(
        conn.execute(
            text(
                f"SELECT to_jsonb(x) FROM migration.asset_conflicts x WHERE {tenant_filter('x')}"
                " AND x.asset_id = :asset"
            ),
            {**scope.as_params(), "asset": asset},
        ).scalars()
    )
    mark = _history_mark(conn, scope)
    # Off the asset first, so that its primary record and key become another source's.
    _move(conn, scope, "asset_sources", "asset_id", [source["id"]], None)
    rederive_assets(conn, scope, [asset])
    new_asset = conn.execute(
        text(_SPLIT_ASSET_SQL), {**scope.as_params(), "asset": asset, "source": source["id"]}
    ).scalar()
    _move(conn, scope, "asset_sources", "asset_id", [source["id"]], new_asset)
    _move(conn, scope, "asset_sources", "matched_on", [source["id"]], NEW_ASSET)
    _move(conn, scope, "raw_import_records", "asset_id", records, new_asset)
    state = {
        "asset": asset_row,
        "source": source,
        "records": records,
        "conflicts": conflicts,
        "derived_history": _derived_history(conn, scope, mark, [asset]),
    }
    split_id = _record(conn, scope, "split", asset, new_asset, state)
    return {
        "id": split_id,
        "action": "split",
        "asset": str(asset),
        "new_asset": str(new_asset),
        "records_relinked": len(records),
    }


def _rows_back(conn: Connection, scope: TenantScope, table: str, rows: list[dict]) -> None:
    """Rows as `to_jsonb` saved them, inserted again (their ids included)."""
    if rows:
        conn.execute(
            text(
                f"INSERT INTO migration.{table} SELECT * FROM"
                f" jsonb_populate_recordset(NULL::migration.{table}, CAST(:rows AS jsonb))"
            ),
            {"rows": json.dumps(rows, default=str)},
        )


def _asset_back(conn: Connection, scope: TenantScope, row: dict) -> None:
    """An asset's every column as it was (the row saved by `to_jsonb`)."""
    columns = ", ".join(f'"{name}"' for name in row if name != "id")
    conn.execute(
        text(
            f"UPDATE migration.assets a SET ({columns}) = (SELECT {columns} FROM"
            f" jsonb_populate_record(NULL::migration.assets, CAST(:row AS jsonb)))"
            f" WHERE {tenant_filter('a')} AND a.id = :id"
        ),
        {**scope.as_params(), "row": json.dumps(row, default=str), "id": row["id"]},
    )


def _delete(conn: Connection, scope: TenantScope, table: str, column: str, values) -> None:
    conn.execute(
        text(
            f"DELETE FROM migration.{table} t WHERE {tenant_filter('t')}"
            f" AND t.{column}::text = ANY(CAST(:values AS text[]))"
        ),
        {**scope.as_params(), "values": [str(v) for v in values]},
    )


def _sources_unchanged(conn, scope, sources: list[dict], asset) -> bool:
    """Each moved source row is still on `asset` with the record it had when moved."""
    found = {s["id"]: s["record"] for s in _sources_of(conn, scope, asset)}
    return all(found.get(s["id"], "gone") == s["record"] for s in sources)


def _sources_back(conn, scope, sources: list[dict], asset) -> None:
    conn.execute(
        text(
            f"UPDATE migration.asset_sources s SET asset_id = :asset, matched_on = x.matched_on"
            f" FROM jsonb_to_recordset(CAST(:sources AS jsonb)) AS x(id uuid, matched_on text)"
            f" WHERE {tenant_filter('s')} AND s.id = x.id"
        ),
        {**scope.as_params(), "asset": asset, "sources": json.dumps(sources)},
    )


def undo_correction(conn: Connection, scope: TenantScope, correction_id: int) -> dict:
    """Put the partition back as it was before merge or split `correction_id`."""
    row = conn.execute(
        text(
            f"SELECT * FROM migration.asset_reconciliations r WHERE {tenant_filter('r')}"
            " AND r.id = :id FOR UPDATE"
        ),
        {**scope.as_params(), "id": correction_id},
    ).one_or_none()
    if row is None:
        raise CorrectionError(
            f"partition {scope.partition_key!r} has no merge or split {correction_id}"
        )
    if row.undone_at is not None:
        raise CorrectionError(
            f"{row.action} {correction_id} was undone at {row.undone_at:%Y-%m-%d %H:%M}"
        )
    state = row.before_state
    moved = state["sources"] if row.action == "merge" else [state["source"]]
    holder = row.asset_id if row.action == "merge" else row.other_asset_id
    if not _sources_unchanged(conn, scope, moved, holder):
        raise CorrectionError(
            f"{row.action} {correction_id} cannot be undone: a source it moved has changed since "
            "(a later run re-imported it)"
        )
    _delete(conn, scope, "asset_history", "id", state["derived_history"])
    if row.action == "merge":
        keep, other = row.asset_id, row.other_asset_id
        _delete(conn, scope, "asset_conflicts", "asset_id", [keep])
        _asset_back(conn, scope, state["keep"])
        _rows_back(conn, scope, "assets", [state["other"]])
        _sources_back(conn, scope, state["sources"], other)
        _move(conn, scope, "raw_import_records", "asset_id", state["records"], other)
        _move(conn, scope, "asset_history", "asset_id", state["history"], other)
        _delete(conn, scope, "match_candidates", "id", [c["id"] for c in state["candidates"]])
        _rows_back(conn, scope, "match_candidates", state["candidates"])
    else:
        asset, new_asset = row.asset_id, row.other_asset_id
        _sources_back(conn, scope, [state["source"]], asset)
        _move(conn, scope, "raw_import_records", "asset_id", state["records"], asset)
        _delete(conn, scope, "asset_conflicts", "asset_id", [asset, new_asset])
        _delete(conn, scope, "assets", "id", [new_asset])
        _asset_back(conn, scope, state["asset"])
    _rows_back(conn, scope, "asset_conflicts", state["conflicts"])
    conn.execute(
        text(
            f"UPDATE migration.asset_reconciliations r SET undone_at = now()"
            f" WHERE {tenant_filter('r')} AND r.id = :id"
        ),
        {**scope.as_params(), "id": correction_id},
    )
    return {"id": correction_id, "action": row.action, "undone": True}
