"""The links of the inventory, each declared once under the one name its metric, foreign key
and repairs are derived from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wiring_pipeline.domain.contract.tables import (
    ASSET_SOURCES,
    ASSETS,
    DISCOVERY_FLOWS,
    RAW_RECORDS,
    Table,
)
from wiring_pipeline.domain.core.tenancy import tenant_filter

Severity = Literal["ERROR", "WARN"]


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
    #: (table, column naming this row, column naming this row's target): a row of `table`
    #: that names both says this row is its target's current record *in its own source*,
    #: so the one-way link is right (DESIGN 3e: an asset names only its primary record).
    current_in: tuple[Table, str, str] | None = None

    @property
    def orphan_metric(self) -> str:
        return f"{self.table.noun}_with_orphan_{self.name}"

    @property
    def orphan_description(self) -> str:
        return (
            f"{self.table.rows} whose {self.column} names no {self.target.row} "
            "of this tenant and engagement"
        )

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

    def is_current_in_source(self, alias: str = "t") -> str:
        """The row (alias `alias`) is its target's current record in a source of its own."""
        if self.current_in is None:
            return "false"
        table, row_column, target_column = self.current_in
        return (
            f"EXISTS (SELECT 1 FROM migration.{table.name} c WHERE {tenant_filter('c')} "
            f"AND c.{row_column} = {alias}.id AND c.{target_column} = {alias}.{self.column})"
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
    current_in=(ASSET_SOURCES, "raw_import_record_id", "asset_id"),
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
#: A source row (DESIGN 3e) names its asset, its flow and its current record; none of them
#: names it back (an asset has a row per source), so each is one-way by nature.
SOURCE_ASSET_REF = Link(
    "source_asset_ref",
    ASSET_SOURCES,
    "asset_id",
    ASSETS,
    reverse=None,
    severity="ERROR",
    blocking=True,
)
SOURCE_FLOW_REF = Link(
    "source_flow_ref",
    ASSET_SOURCES,
    "discovery_flow_id",
    DISCOVERY_FLOWS,
    reverse=None,
    severity="ERROR",
    blocking=True,
)
SOURCE_RAW_IMPORT_REF = Link(
    "source_raw_import_ref",
    ASSET_SOURCES,
    "raw_import_record_id",
    RAW_RECORDS,
    reverse=None,
    severity="ERROR",
    blocking=True,
)
LINKS: tuple[Link, ...] = (
    FLOW_REF,
    RAW_IMPORT_REF,
    ASSET_REF,
    SUPERSEDED_BY,
    SOURCE_ASSET_REF,
    SOURCE_FLOW_REF,
    SOURCE_RAW_IMPORT_REF,
)
LINKS_BY_NAME = {link.name: link for link in LINKS}
