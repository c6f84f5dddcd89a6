"""The wiring contract: each link of the inventory declared once, and the metrics over them.

This module is the one place where a link and its invariant are defined (DESIGN section 3).
Everything else is derived from the declarations below, under the link's one name:

* the health metrics (`domain/health.py` folds all of them into one query), and so the
  Dagster zero-orphan checks, which are one per metric;
* the tenant-scoped composite foreign keys (`domain/constraints.py`): `fk_<table>_<link>`;
* the backfill repairs (`domain/backfill/repairs.py`): `clear_orphan_<link>` for every
  link, `complete_<link>` where the reverse link names the row, `relink_<link>` where a
  legacy key can find the target.

A metric is data: a name, how bad a violation is, and one or more `Part`s, each a table
and a predicate over its rows (alias `t`, already scoped to the partition). To add one,
append a `Metric` to `METRICS`; a new link gets its orphan metric from `Link.orphan_metric`.
Not every metric is about a link: `source_rows_not_in_inventory` counts the source rows an
import lost on the way to the inventory.
Models: sqlmesh's built-in audits (a name plus a bad-rows query) and soda-core's checks
(each metric declared once, folded into one shared query).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wiring_pipeline.domain.cleansing import REJECTED_PREFIX
from wiring_pipeline.domain.tenancy import tenant_filter

Severity = Literal["ERROR", "WARN"]
#: When a metric's check fails: on any violating row, or only when the count grew since
#: the last measurement a person saw (for a count that is legitimately non-zero).
FailsOn = Literal["any", "growth"]


@dataclass(frozen=True)
class Table:
    """A tenant table the contract speaks about, and how its rows read in samples."""

    name: str
    #: How a metric name calls its rows: `raw_records_with_orphan_asset_ref`.
    noun: str
    #: `id, name, created_at` of a sampled row, over alias `t`.
    sample_columns: str = "t.id, t.name, t.created_at"


ASSETS = Table("assets", "assets")
RAW_RECORDS = Table(
    "raw_import_records",
    "raw_records",
    "t.id, concat('raw record, row ', t.row_number) AS name, t.created_at",
)
DISCOVERY_FLOWS = Table("discovery_flows", "discovery_flows")
#: The file an import row came from, for a sampled row of alias `t` with a `data_import_id`.
_SOURCE_FILE = (
    "(SELECT d.filename FROM migration.data_imports d "
    f"WHERE {tenant_filter('d')} AND d.id = t.data_import_id)"
)
REJECTED_ROWS = Table(
    "import_rejected_rows",
    "rejected_rows",
    f"t.id::text AS id, concat({_SOURCE_FILE}, ', row ', t.row_number, ': ', t.reason) AS name,"
    " t.created_at",
)


@dataclass(frozen=True)
class Link:
    """A reference column of one table to the `id` of a row of the same tenant and engagement.

    A NULL value is a *missing* link; a value that names no row of the partition is an
    *orphan* (deleted, or another tenant's or engagement's row).
    """

    #: The one name of the link: in its metric, its foreign key and its repairs.
    name: str
    table: Table
    column: str
    target: Table
    #: The link of the target row that should name this row back, if the pair is two-way.
    reverse: str | None
    #: Of the orphan metric (and so of its Dagster check).
    severity: Severity
    blocking: bool
    #: A column of `table` that identifies the target by another key (legacy data); with
    #: `legacy_target_column`, the backfill relinks orphans and missing links through it.
    legacy_column: str | None = None
    legacy_target_column: str | None = None
    #: A column of `table` naming the row that replaced this one (a re-import's history,
    #: DESIGN 3a). A replaced row whose successor has the same link is history: its link
    #: still holds in one direction only, and that is right (`is_history`).
    successor_column: str | None = None

    @property
    def orphan_metric(self) -> str:
        return f"{self.table.noun}_with_orphan_{self.name}"

    @property
    def foreign_key(self) -> str:
        return f"fk_{self.table.name}_{self.name}"

    @property
    def clear_repair(self) -> str:
        return f"clear_orphan_{self.name}"

    @property
    def complete_repair(self) -> str:
        return f"complete_{self.name}"

    @property
    def relink_repair(self) -> str:
        return f"relink_{self.name}"

    def is_history(self, alias: str = "t") -> str:
        """The row (alias `alias`) was replaced by a row with the same link: history."""
        if self.successor_column is None:
            return "false"
        successor = f"{alias}.{self.successor_column}"
        return (
            f"({successor} IS NOT NULL AND EXISTS (SELECT 1 FROM migration.{self.table.name} s "
            f"WHERE {tenant_filter('s')} AND s.id = {successor} "
            f"AND s.{self.column} = {alias}.{self.column}))"
        )

    def target_exists(self, alias: str = "x") -> str:
        """The row's target exists in the partition (the row itself is alias `t`)."""
        return (
            f"EXISTS (SELECT 1 FROM migration.{self.target.name} {alias} "
            f"WHERE {tenant_filter(alias)} AND {alias}.id = t.{self.column})"
        )


FLOW_REF = Link(
    "flow_ref",
    ASSETS,
    "discovery_flow_id",
    DISCOVERY_FLOWS,
    reverse=None,
    severity="ERROR",
    blocking=True,
    legacy_column="flow_id",
    legacy_target_column="flow_id",
)
RAW_IMPORT_REF = Link(
    "raw_import_ref",
    ASSETS,
    "raw_import_records_id",
    RAW_RECORDS,
    reverse="asset_ref",
    severity="ERROR",
    blocking=True,
)
ASSET_REF = Link(
    "asset_ref",
    RAW_RECORDS,
    "asset_id",
    ASSETS,
    reverse="raw_import_ref",
    severity="ERROR",
    blocking=True,
    successor_column="superseded_by",
)
#: A re-import's history (DESIGN 3a): the record that replaced this one as its asset's
#: current record. One-way by nature (nothing names it back); it must stay in the partition.
SUPERSEDED_BY = Link(
    "superseded_by",
    RAW_RECORDS,
    "superseded_by",
    RAW_RECORDS,
    reverse=None,
    severity="ERROR",
    blocking=True,
)
LINKS: tuple[Link, ...] = (FLOW_REF, RAW_IMPORT_REF, ASSET_REF, SUPERSEDED_BY)
LINKS_BY_NAME = {link.name: link for link in LINKS}


@dataclass(frozen=True)
class Part:
    """The violating rows of one table: `predicate` over alias `t`, besides the tenant filter."""

    table: Table
    predicate: str
    #: How a sampled row reads, when not as the table's rows usually do.
    sample_columns: str | None = None

    @property
    def columns(self) -> str:
        return self.sample_columns or self.table.sample_columns

    def source(self) -> str:
        return f"FROM migration.{self.table.name} t WHERE {tenant_filter('t')} AND {self.predicate}"


@dataclass(frozen=True)
class Metric:
    """One invariant: its name, how bad a violation is, and the rows that violate it."""

    name: str
    severity: Severity
    blocking: bool
    description: str
    parts: tuple[Part, ...]
    fails_on: FailsOn = "any"

    def fails(self, count: int, previous: dict[str, int] | None) -> bool:
        """The check's verdict; `previous` is the last snapshot of another run, if any."""
        if self.fails_on == "growth":
            return count > self.previous_count(previous)
        return count > 0

    def previous_count(self, previous: dict[str, int] | None) -> int:
        """This metric's count in an earlier snapshot (0: none, or taken before it existed)."""
        return int((previous or {}).get(self.name, 0))


def orphans(link: Link, description: str) -> Metric:
    """Rows whose link names no row of the partition (NULL is missing, not orphan)."""
    predicate = f"t.{link.column} IS NOT NULL AND NOT {link.target_exists()}"
    return Metric(
        link.orphan_metric,
        link.severity,
        link.blocking,
        description,
        (Part(link.table, predicate),),
    )


def missing(
    link: Link,
    name: str,
    severity: Severity,
    blocking: bool,
    description: str,
    *,
    where: str | None = None,
    fails_on: FailsOn = "any",
) -> Metric:
    """Rows (optionally only those matching `where`) whose link is NULL."""
    predicate = f"t.{link.column} IS NULL"
    if where:
        predicate = f"{where} AND {predicate}"
    return Metric(name, severity, blocking, description, (Part(link.table, predicate),), fails_on)


def one_way(name: str, pairs: tuple[Link, ...], description: str) -> Metric:
    """Rows whose target exists but does not name them back, counted on each side.

    A row that is history (`Link.is_history`: replaced by a row with the same link) is not.
    """
    parts = []
    for link in pairs:
        back = LINKS_BY_NAME[link.reverse]
        history = f" AND NOT {link.is_history()}" if link.successor_column else ""
        parts.append(
            Part(
                link.table,
                f"EXISTS (SELECT 1 FROM migration.{link.target.name} x "
                f"WHERE {tenant_filter('x')} AND x.id = t.{link.column} "
                f"AND x.{back.column} IS DISTINCT FROM t.id){history}",
            )
        )
    return Metric(name, "ERROR", True, description, tuple(parts))


#: The row `t` comes from the latest loaded import of its flow in the partition: what the
#: flow's inventory now stands for (an earlier import's rows were superseded).
_OF_LATEST_IMPORT = (
    f"EXISTS (SELECT 1 FROM migration.data_imports d WHERE {tenant_filter('d')} "
    "AND d.id = t.data_import_id AND d.status = 'loaded' "
    f"AND NOT EXISTS (SELECT 1 FROM migration.data_imports n WHERE {tenant_filter('n')} "
    "AND n.discovery_flow_id = d.discovery_flow_id AND n.status = 'loaded' "
    "AND (n.created_at, n.id) > (d.created_at, d.id)))"
)


def not_in_inventory(name: str, description: str) -> Metric:
    """Source rows of the latest import of each flow that became no asset (DESIGN 3b).

    Counted on two tables: rows rejected at load, and raw records cleansing rejected.
    """
    return Metric(
        name,
        "WARN",
        False,
        description,
        (
            Part(REJECTED_ROWS, _OF_LATEST_IMPORT),
            Part(
                RAW_RECORDS,
                f"t.is_processed AND t.asset_id IS NULL "
                f"AND t.processing_notes LIKE '{REJECTED_PREFIX}%' AND {_OF_LATEST_IMPORT}",
                f"t.id::text AS id, concat({_SOURCE_FILE}, ', row ', t.row_number, ': ', "
                "t.processing_notes) AS name, t.created_at",
            ),
        ),
    )


#: DESIGN section 3, in its order; the names are the public contract (checks, JSON, alerts).
METRICS: tuple[Metric, ...] = (
    missing(
        FLOW_REF,
        "flow_based_assets_missing_discovery_flow_id",
        "ERROR",
        True,
        "flow-based inventory assets with no discovery_flow_id",
        where="t.discovery_method = 'flow_based'",
    ),
    missing(
        FLOW_REF,
        "all_assets_missing_discovery_flow_id",
        "WARN",
        False,
        "inventory assets of any discovery method with no discovery_flow_id",
        # Manual and imported-by-hand assets have no flow, legitimately: a warning that never
        # clears teaches people to ignore warnings, so it fails only when the count grows.
        fails_on="growth",
    ),
    orphans(
        RAW_IMPORT_REF,
        "assets whose raw_import_records_id names no raw record of this tenant and engagement",
    ),
    orphans(ASSET_REF, "raw records whose asset_id names no asset of this tenant and engagement"),
    Metric(
        "unprocessed_raw_records",
        "ERROR",
        False,
        "raw records not yet processed (is_processed = false)",
        (Part(RAW_RECORDS, "NOT t.is_processed"),),
    ),
    orphans(
        FLOW_REF,
        "assets whose discovery_flow_id names no discovery flow of this tenant and engagement",
    ),
    one_way(
        "asymmetric_links",
        (RAW_IMPORT_REF, ASSET_REF),
        "links that hold in one direction only (counted on each side; a record a re-import "
        "superseded, pointing at its asset, is history, not a one-way link)",
    ),
    not_in_inventory(
        "source_rows_not_in_inventory",
        "source rows of the latest import of each flow that became no inventory asset"
        " (rejected at load or in cleansing)",
    ),
)
METRICS_BY_NAME = {metric.name: metric for metric in METRICS}
