"""Everything of the wiring-health concept, for `wiring_pipeline/definitions.py` to compose."""

from dagster import Definitions

from wiring_pipeline.defs.health.assets import wiring_health
from wiring_pipeline.defs.health.checks import wiring_zero_orphan_checks
from wiring_pipeline.defs.health.fleet_assets import wiring_health_fleet
from wiring_pipeline.defs.health.jobs import wiring_health_fleet_job, wiring_health_job
from wiring_pipeline.defs.health.schedules import nightly_wiring_health
from wiring_pipeline.defs.health.sensors import wiring_check_alert_sensor

defs = Definitions(
    assets=[wiring_health, wiring_health_fleet],
    asset_checks=[wiring_zero_orphan_checks],
    jobs=[wiring_health_job, wiring_health_fleet_job],
    sensors=[wiring_check_alert_sensor],
    schedules=[nightly_wiring_health],
)
