"""The deliverable: a partition's inventory as a spreadsheet, each asset with its provenance.

What the consultants hand over is the inventory; what makes it defensible is that every
row says where it came from: the import file and source row of its current raw record,
the discovery flow, and the hash of the field mappings that shaped it. A legacy asset
with a broken link exports with those cells empty rather than disappearing, so the
spreadsheet shows the same gaps the wiring metrics count.

The export is whole and streamed (DESIGN 3d). Its columns are derived from
`INVENTORY_FIELDS`, so a field added to the contract is exported without a change here
(the field names carry their units: `memory_gb`, `storage_gb`). Its rows come from a
server-side cursor a batch at a time and go to the output as they come (`export_formats`), so
its memory does not grow with the partition: a 600 000-asset CSV export built as one
frame took the API from 209 MB to 2.1 GB.

Where several sources describe a machine (DESIGN 3e), its row names them (`sources`, in
precedence order) and the rules that joined them (`matched_on`), so a reader can check a
merge; what the sources disagree on goes beside the inventory (a `conflicts` sheet, or a
CSV of its own), never into it: the inventory row holds the value that won.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal

from sqlalchemy import Connection, Select, Text, and_, case, cast, func, literal, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by

from wiring_pipeline.domain.contract.fields import INVENTORY_FIELDS
from wiring_pipeline.domain.contract.states import RETIRED_PHASE
from wiring_pipeline.domain.core.schema import (
    asset_conflicts,
    asset_sources,
    assets,
    data_imports,
    discovery_flows,
    raw_import_records,
)
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter
from wiring_pipeline.domain.inventory import export_formats
from wiring_pipeline.domain.inventory.export_formats import (
    XLSX_MAX_ROWS,
    ExportError,
    Sheet,
    too_many_for_a_sheet,
)
from wiring_pipeline.domain.inventory.matching import NEW_ASSET

ExportFormat = Literal["csv", "xlsx"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: Rows fetched from the server-side cursor at a time: what the export holds at once.
FETCH_SIZE = 2_000

PROVENANCE_COLUMNS = (
    "import_file",
    "source_row_number",
    "flow_id",
    "flow_name",
    "mapping_hash",
    "current_record_id",
)
#: The flows that describe the asset, highest precedence first (a source that no longer
#: has it marked ` (retired)`), and how each joined it, but for the one that created it.
SOURCE_COLUMNS = ("sources", "matched_on")
#: Between two names or rules of one cell: `cmdb; rvtools`.
SEPARATOR = "; "
RETIRED_MARK = f" ({RETIRED_PHASE})"
#: The export's header, in order: the asset's id, every inventory field in the contract's
#: order, its discovery method and phase, its provenance and sources, and its times (UTC:
#: spreadsheets have no time zones, so the header says which).
EXPORT_COLUMNS: tuple[str, ...] = (
    "asset_id",
    *INVENTORY_FIELDS,
    "discovery_method",
    "current_phase",
    *PROVENANCE_COLUMNS,
    *SOURCE_COLUMNS,
    "created_at_utc",
    "updated_at_utc",
)
#: The conflicts' header before one column per source that disagrees (`<flow> value`).
CONFLICT_COLUMNS = ("asset_id", "asset_name", "field", "chosen_source", "chosen_value")
INVENTORY_SHEET = "inventory"
CONFLICTS_SHEET = "conflicts"


@dataclass(frozen=True)
class Exported:
    assets: int
    #: None when the conflicts were not written (a CSV export given nowhere to put them).
    conflicts: int | None


def _partition_assets(scope: TenantScope, include_retired: bool):
    """The alias and the conditions of the exported assets: the partition's current ones,
    and its retired ones on request."""
    a = assets.alias("a")
    conditions = [*scope.where(a)]
    if not include_retired:
        conditions.append(a.c.current_phase.is_distinct_from(RETIRED_PHASE))
    return a, conditions


def _flow_label(f):
    return func.coalesce(f.c.flow_name, cast(f.c.flow_id, Text))


def _sources_of(scope: TenantScope, a):
    """One row per asset (an aggregate without GROUP BY): its source cells, read through the
    source rows' (tenant, asset) index as the cursor reaches the asset, so the export stays
    a stream rather than a grouping of the whole partition first."""
    s = asset_sources.alias("s")
    f = discovery_flows.alias("sf")
    order = (f.c.precedence, f.c.id, s.c.created_at, s.c.id)
    shown = _flow_label(f) + case((s.c.current_phase == RETIRED_PHASE, RETIRED_MARK), else_="")
    separator = literal(SEPARATOR)
    return (
        select(
            func.string_agg(shown, aggregate_order_by(separator, *order)).label("sources"),
            func.string_agg(s.c.matched_on, aggregate_order_by(separator, *order))
            .filter(s.c.matched_on != NEW_ASSET)
            .label("matched_on"),
        )
        .select_from(s.outerjoin(f, and_(*scope.where(f), f.c.id == s.c.discovery_flow_id)))
        .where(*scope.where(s), s.c.asset_id == a.c.id)
        .lateral("src")
    )


def _export_query(scope: TenantScope, include_retired: bool) -> Select:
    a, conditions = _partition_assets(scope, include_retired)
    src = _sources_of(scope, a)
    r = raw_import_records.alias("r")
    d = data_imports.alias("d")
    f = discovery_flows.alias("f")
    # Ids as text and times as UTC wall-clock times, converted by the server: the rows
    # come out ready for a cell.
    columns = (
        cast(a.c.id, Text).label("asset_id"),
        *(a.c[field].label(field) for field in INVENTORY_FIELDS),
        a.c.discovery_method,
        a.c.current_phase,
        d.c.filename.label("import_file"),
        r.c.row_number.label("source_row_number"),
        cast(a.c.discovery_flow_id, Text).label("flow_id"),
        f.c.flow_name,
        a.c.field_mappings_used.label("mapping_hash"),
        cast(a.c.raw_import_records_id, Text).label("current_record_id"),
        src.c.sources,
        src.c.matched_on,
        func.timezone("UTC", a.c.created_at).label("created_at_utc"),
        func.timezone("UTC", a.c.updated_at).label("updated_at_utc"),
    )
    joined = (
        a.outerjoin(r, and_(*scope.where(r), r.c.id == a.c.raw_import_records_id))
        .outerjoin(d, and_(*scope.where(d), d.c.id == r.c.data_import_id))
        .outerjoin(f, and_(*scope.where(f), f.c.id == a.c.discovery_flow_id))
        .join(src, literal(True))
    )
    return select(*columns).select_from(joined).where(*conditions).order_by(a.c.created_at, a.c.id)


def count_exported(conn: Connection, scope: TenantScope, *, include_retired: bool = False) -> int:
    """How many rows the export of the partition has (one per asset)."""
    a, conditions = _partition_assets(scope, include_retired)
    return conn.execute(select(func.count()).select_from(a).where(*conditions)).scalar_one()


def export_rows(
    conn: Connection,
    scope: TenantScope,
    *,
    include_retired: bool = False,
    fetch_size: int = FETCH_SIZE,
) -> Iterator[list]:
    """The export's rows in `EXPORT_COLUMNS` order, oldest asset first, formulas
    neutralised; read from a server-side cursor `fetch_size` rows at a time.

    Lazy: a row is yielded before the next batch is fetched, so the caller writes it out
    while the partition is still being read. The caller's transaction stays open for as
    long as it iterates.
    """
    return _streamed(conn, _export_query(scope, include_retired), fetch_size)


def _streamed(conn: Connection, query: Select, fetch_size: int) -> Iterator[list]:
    result = conn.execute(query, execution_options={"yield_per": fetch_size})
    neutralise = export_formats.neutralise_formulas
    try:
        for row in result:
            yield neutralise(row)
    finally:
        result.close()  # an abandoned export closes its cursor at once


_CONFLICT_SOURCES_SQL = f"""
SELECT k.key, coalesce(f.flow_name, f.flow_id::text, k.key) AS label
FROM (SELECT DISTINCT jsonb_object_keys(x.source_values) AS key
      FROM migration.asset_conflicts x WHERE {tenant_filter("x")}) AS k
LEFT JOIN migration.discovery_flows f ON {tenant_filter("f")} AND f.id::text = k.key
ORDER BY f.precedence, f.id, k.key
"""


def _conflicts_query(scope: TenantScope, include_retired: bool, source_keys: list[str]) -> Select:
    """The conflicts of the exported assets, in the inventory's order, then by field: the
    value kept and where it came from, then each source's value in `source_keys`' order."""
    a, conditions = _partition_assets(scope, include_retired)
    x = asset_conflicts.alias("x")
    f = discovery_flows.alias("f")
    columns = (
        cast(x.c.asset_id, Text).label("asset_id"),
        a.c.name.label("asset_name"),
        x.c.field_name.label("field"),
        _flow_label(f).label("chosen_source"),
        x.c.chosen_value,
        *(x.c.source_values[key].label(f"value_{n}") for n, key in enumerate(source_keys)),
    )
    joined = x.join(a, and_(*conditions, a.c.id == x.c.asset_id)).outerjoin(
        f, and_(*scope.where(f), f.c.id == x.c.chosen_flow_id)
    )
    return (
        select(*columns)
        .select_from(joined)
        .where(*scope.where(x))
        .order_by(a.c.created_at, a.c.id, x.c.field_name)
    )


def conflict_table(
    conn: Connection,
    scope: TenantScope,
    *,
    include_retired: bool = False,
    fetch_size: int = FETCH_SIZE,
) -> tuple[tuple[str, ...], Iterator[list]]:
    """The header and the lazy rows of the exported assets' conflicts: one column per source
    that disagrees on something (`<flow> value`, precedence order), so a spreadsheet can
    filter on a source's values. The rows are read, like the inventory's, from a cursor
    that opens only when the first row is asked for."""
    sources = conn.execute(text(_CONFLICT_SOURCES_SQL), scope.as_params()).all()
    header = (*CONFLICT_COLUMNS, *(f"{source.label} value" for source in sources))
    query = _conflicts_query(scope, include_retired, [source.key for source in sources])
    return header, _streamed(conn, query, fetch_size)


def count_conflicts(conn: Connection, scope: TenantScope, *, include_retired: bool = False) -> int:
    """How many rows the conflicts of the exported assets have (one per asset and field)."""
    a, conditions = _partition_assets(scope, include_retired)
    x = asset_conflicts.alias("x")
    return conn.execute(
        select(func.count())
        .select_from(x.join(a, and_(*conditions, a.c.id == x.c.asset_id)))
        .where(*scope.where(x))
    ).scalar_one()


def export_inventory(
    conn: Connection,
    scope: TenantScope,
    fmt: str,
    out: BinaryIO,
    *,
    conflicts_out: BinaryIO | None = None,
    include_retired: bool = False,
    fetch_size: int = FETCH_SIZE,
) -> Exported:
    """Write the partition's export to `out` as it is read, a file a spreadsheet opens
    (UTF-8 CSV with a BOM, or an XLSX workbook of two sheets, `inventory` and
    `conflicts`); a CSV export writes its conflicts to `conflicts_out` if given, as a CSV
    of their own, since a CSV file has one table.

    An XLSX export that cannot fit its sheets is refused before a row is read: a count
    takes a second on a million assets, the export minutes of reading for nothing.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    options = {"include_retired": include_retired}
    if fmt == "xlsx":
        for count, what in ((count_exported, "assets"), (count_conflicts, "conflicts")):
            total = count(conn, scope, **options)
            if total > XLSX_MAX_ROWS:
                raise too_many_for_a_sheet(total, what=what)
    rows = export_rows(conn, scope, fetch_size=fetch_size, **options)
    if fmt == "csv":
        assets_written = export_formats.write_csv(EXPORT_COLUMNS, rows, out)
        if conflicts_out is None:
            return Exported(assets_written, None)
        header, conflict_rows = conflict_table(conn, scope, fetch_size=fetch_size, **options)
        conflicts_written = export_formats.write_csv(header, conflict_rows, conflicts_out)
        return Exported(assets_written, conflicts_written)
    header, conflict_rows = conflict_table(conn, scope, fetch_size=fetch_size, **options)
    assets_written, conflicts_written = export_formats.write_xlsx(
        [
            Sheet(INVENTORY_SHEET, EXPORT_COLUMNS, rows, "assets"),
            Sheet(CONFLICTS_SHEET, header, conflict_rows, "conflicts"),
        ],
        out,
    )
    return Exported(assets_written, conflicts_written)
