"""The code location: every Dagster object of wiring_pipeline, assembled in one place."""

from dagster import Definitions

from wiring_pipeline.resources import WiringDatabase

defs = Definitions(
    assets=[],
    asset_checks=[],
    jobs=[],
    sensors=[],
    schedules=[],
    resources={"wiring_db": WiringDatabase()},
)
