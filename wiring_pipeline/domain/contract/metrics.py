"""The wiring contract: each link of the inventory declared once, and the metrics over them.

This module is the one place where a link and its invariant are defined (DESIGN section 3).
Everything else is derived from the declarations below, under the link's one name:

* the health metrics (`domain/health/measure.py` folds all of them into one query), and so the
  Dagster zero-orphan checks, which are one per metric;
* the tenant-scoped composite foreign keys (`domain/contract/constraints.py`): `fk_<table>_<link>`;
* the backfill repairs (`domain/backfill/repairs.py`): `clear_orphan_<link>` for every
  link, `complete_<link>` where the reverse link names the row, `relink_<link>` where a
  legacy key can find the target.

A metric is data: a name, how bad a violation is, and one or more `Part`s, each a table
and a predicate over its rows (alias `t`, already scoped to the partition). To add one,
append a `Metric` to `METRICS`; a new link gets its orphan metric (`ORPHAN_METRICS`, named
by `Link.orphan_metric`) with no edit here.
Not every metric is about a link: `source_rows_not_in_inventory` counts the source rows an
import lost on the way to the inventory.
Models: sqlmesh's built-in audits (a name plus a bad-rows query) and soda-core's checks
(each metric declared once, folded into one shared query).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wiring_pipeline.domain.contract.links import (
    ASSET_REF,
    FLOW_REF,
    LINKS,
    LINKS_BY_NAME,
    RAW_IMPORT_REF,
    Link,
    Severity,
)
from wiring_pipeline.domain.contract.states import (
    LOADED_IMPORT,
    REJECTED_PREFIX,
    is_latest_import,
)
from wiring_pipeline.domain.contract.tables import (
    ASSET_CONFLICTS,
    DATA_IMPORTS,
    MATCH_CANDIDATES,
    RAW_RECORDS,
    REJECTED_ROWS,
    SOURCE_FILE,
    Table,
)
from wiring_pipeline.domain.core.tenancy import tenant_filter

#: When a metric's check fails: on any violating row, or only when the count grew since
#: the last measurement a person saw (for a count that is legitimately non-zero).
FailsOn = Literal["any", "growth"]


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


def orphans(link: Link) -> Metric:
    """Rows whose link names no row of the partition (NULL is missing, not orphan)."""
    predicate = f"t.{link.column} IS NOT NULL AND NOT {link.target_exists()}"
    return Metric(
        link.orphan_metric,
        link.severity,
        link.blocking,
        link.orphan_description,
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
        if link.current_in:
            history += f" AND NOT {link.is_current_in_source()}"
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
#: flow's inventory now stands for (an earlier import's rows were superseded). The same
#: standing the inventory applies and retires by (`states.is_latest_import`).
_OF_LATEST_IMPORT = (
    f"EXISTS (SELECT 1 FROM migration.data_imports d WHERE {tenant_filter('d')} "
    f"AND d.id = t.data_import_id AND d.status = '{LOADED_IMPORT}' "
    f"AND {is_latest_import('d')})"
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
                f"t.id::text AS id, concat({SOURCE_FILE}, ', row ', t.row_number, ': ', "
                "t.processing_notes) AS name, t.created_at",
            ),
        ),
    )


#: The orphan metric of every link of the contract, derived from `LINKS`: no link can lack
#: one (it would read healthy while `wiring_constraints_job` refuses to validate its key).
ORPHAN_METRICS: dict[str, Metric] = {link.name: orphans(link) for link in LINKS}

#: DESIGN section 3, in its order; the names are the public contract (checks, JSON, alerts).
_DESIGN_ORDER: tuple[Metric, ...] = (
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
    ORPHAN_METRICS[RAW_IMPORT_REF.name],
    ORPHAN_METRICS[ASSET_REF.name],
    Metric(
        "unprocessed_raw_records",
        "ERROR",
        False,
        "raw records not yet processed (is_processed = false)",
        (Part(RAW_RECORDS, "NOT t.is_processed"),),
    ),
    ORPHAN_METRICS[FLOW_REF.name],
    one_way(
        "asymmetric_links",
        (RAW_IMPORT_REF, ASSET_REF),
        "links that hold in one direction only (counted on each side; a record a re-import "
        "superseded, pointing at its asset, is history, and a record that is its asset's "
        "current record in another source than the asset's primary one is right)",
    ),
    not_in_inventory(
        "source_rows_not_in_inventory",
        "source rows of the latest import of each flow that became no inventory asset"
        " (rejected at load or in cleansing)",
    ),
)
#: What reconciliation (DESIGN 3e) leaves to a person: matches it would not decide, and
#: fields on which the sources of one machine disagree. Conflicts are often legitimate (the
#: CMDB is out of date): that check fails when their number grows, not while it stands.
RECONCILIATION_METRICS: tuple[Metric, ...] = (
    Metric(
        "open_match_candidates",
        "WARN",
        False,
        "possible matches across sources left for review (`inventory matches`)",
        (Part(MATCH_CANDIDATES, "t.status = 'open'"),),
    ),
    Metric(
        "asset_field_conflicts",
        "WARN",
        False,
        "asset fields on which the current sources disagree (`inventory conflicts`)",
        (Part(ASSET_CONFLICTS, "true"),),
        fails_on="growth",
    ),
)
#: A full export that would retire much of its flow's estate and holds it (DESIGN 3f): the
#: flow's latest loaded import, unconfirmed, not re-registered as partial.
HELD_RETIREMENT_SQL = (
    f"t.retirement_held > 0 AND t.retirement_confirmed_at IS NULL AND NOT t.is_partial "
    f"AND t.status = '{LOADED_IMPORT}' AND {is_latest_import('t')}"
)
IMPORT_SAFETY_METRICS: tuple[Metric, ...] = (
    Metric(
        "retirements_held",
        "WARN",
        False,
        "full exports whose retirements wait for `run --confirm-retire IMPORT_ID` (or a "
        "re-import with --partial): they would retire much of their flow's estate",
        (Part(DATA_IMPORTS, HELD_RETIREMENT_SQL),),
    ),
)
_PLACED = {metric.name for metric in _DESIGN_ORDER}
#: Every metric: DESIGN 3's, then the orphan metrics of the links added since (in the order
#: of `LINKS`: `raw_records_with_orphan_superseded_by`).
METRICS: tuple[Metric, ...] = (
    _DESIGN_ORDER
    + tuple(metric for metric in ORPHAN_METRICS.values() if metric.name not in _PLACED)
    + RECONCILIATION_METRICS
    + IMPORT_SAFETY_METRICS
)
METRICS_BY_NAME = {metric.name: metric for metric in METRICS}
