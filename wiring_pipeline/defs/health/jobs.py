"""`wiring_health_job` materialises `wiring_health` of one partition, with its checks (the UI
and the backfill launch it); `wiring_health_fleet_job` measures every partition in one run,
the nightly pass (DESIGN 4b)."""

from dagster import AssetSelection, define_asset_job

from wiring_pipeline.defs.health.assets import WIRING_HEALTH_KEY
from wiring_pipeline.defs.health.fleet_assets import WIRING_HEALTH_FLEET_KEY

wiring_health_job = define_asset_job(
    "wiring_health_job",
    selection=AssetSelection.assets(WIRING_HEALTH_KEY),
    description="Measure a partition's wiring, store a snapshot, evaluate the zero-orphan checks.",
)

wiring_health_fleet_job = define_asset_job(
    "wiring_health_fleet_job",
    selection=AssetSelection.assets(WIRING_HEALTH_FLEET_KEY),
    description=(
        "Measure every partition set-based, store a snapshot of each, report the checks of "
        "partitions whose metrics changed."
    ),
)
