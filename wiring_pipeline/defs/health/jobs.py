"""`wiring_health_job`: materialise `wiring_health` of one partition, with its checks."""

from dagster import AssetSelection, define_asset_job

from wiring_pipeline.defs.health.assets import WIRING_HEALTH_KEY

wiring_health_job = define_asset_job(
    "wiring_health_job",
    selection=AssetSelection.assets(WIRING_HEALTH_KEY),
    description="Measure a partition's wiring, store a snapshot, evaluate the zero-orphan checks.",
)
