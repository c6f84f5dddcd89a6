"""The tenant tables the contract speaks about, and how their rows read in samples."""

from __future__ import annotations

from dataclasses import dataclass

from wiring_pipeline.domain.core.tenancy import tenant_filter


@dataclass(frozen=True)
class Table:
    """A tenant table the contract speaks about, and how its rows read in samples."""

    name: str
    #: How a metric name calls its rows: `raw_records_with_orphan_asset_ref`.
    noun: str
    #: `id, name, created_at` of a sampled row, over alias `t`.
    sample_columns: str = "t.id, t.name, t.created_at"

    @property
    def rows(self) -> str:
        """How a description calls its rows: `raw records`."""
        return self.noun.replace("_", " ")

    @property
    def row(self) -> str:
        """How a description calls one row: `raw record` (every noun is a plain plural)."""
        return self.rows.removesuffix("s")


ASSETS = Table("assets", "assets")
RAW_RECORDS = Table(
    "raw_import_records",
    "raw_records",
    "t.id, concat('raw record, row ', t.row_number) AS name, t.created_at",
)
DISCOVERY_FLOWS = Table("discovery_flows", "discovery_flows")
#: Each source's current record of a machine (DESIGN 3e).
ASSET_SOURCES = Table(
    "asset_sources",
    "asset_sources",
    "t.id, concat('source row, key ', t.identity_key) AS name, t.created_at",
)
#: The file an import row came from, for a sampled row of alias `t` with a `data_import_id`.
SOURCE_FILE = (
    "(SELECT d.filename FROM migration.data_imports d "
    f"WHERE {tenant_filter('d')} AND d.id = t.data_import_id)"
)
REJECTED_ROWS = Table(
    "import_rejected_rows",
    "rejected_rows",
    f"t.id::text AS id, concat({SOURCE_FILE}, ', row ', t.row_number, ': ', t.reason) AS name,"
    " t.created_at",
)
DATA_IMPORTS = Table(
    "data_imports",
    "data_imports",
    "t.id, concat(t.filename, ': would retire ', t.retirement_held, ' current assets (run "
    "--confirm-retire ', t.id, ' or import it again with --partial)') AS name, t.created_at",
)
MATCH_CANDIDATES = Table(
    "match_candidates",
    "match_candidates",
    "t.id::text AS id, concat('asset ', t.asset_id, ' may be ', t.candidate_asset_id, ' (', "
    "t.rule, '): ', t.reason) AS name, t.created_at",
)
ASSET_CONFLICTS = Table(
    "asset_conflicts",
    "asset_conflicts",
    "t.asset_id::text AS id, concat(t.field_name, ': ', t.source_values::text) AS name,"
    " t.detected_at AS created_at",
)
