"""`wiring_constraints_job`: materialise `wiring_foreign_keys` (add, then validate the keys)."""

from dagster import AssetSelection, define_asset_job

from wiring_pipeline.defs.constraints.assets import wiring_foreign_keys

wiring_constraints_job = define_asset_job(
    "wiring_constraints_job",
    selection=AssetSelection.assets(wiring_foreign_keys),
    description="Add the tenant-scoped foreign keys NOT VALID; validate once no orphan is left.",
)
