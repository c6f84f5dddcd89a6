"""The code location: every Dagster object of wiring_pipeline, assembled in one place."""

from dagster import Definitions

from wiring_pipeline.defs.backfill.jobs import (
    discovery_wiring_backfill,
    wiring_health_after_backfill,
)
from wiring_pipeline.defs.constraints.assets import (
    wiring_constraints_job,
    wiring_foreign_keys,
    wiring_foreign_keys_validated,
)
from wiring_pipeline.defs.discovery.assets import (
    asset_inventory,
    cleansed_import_records,
    raw_import_records,
)
from wiring_pipeline.defs.discovery.jobs import discovery_inventory_job
from wiring_pipeline.defs.discovery.sensors import pending_imports_sensor, tenant_engagement_sensor
from wiring_pipeline.defs.health.assets import wiring_health, wiring_zero_orphan_checks
from wiring_pipeline.defs.health.jobs import nightly_wiring_health, wiring_health_job
from wiring_pipeline.defs.health.sensors import wiring_check_alert_sensor
from wiring_pipeline.resources import WiringDatabase

defs = Definitions(
    assets=[
        raw_import_records,
        cleansed_import_records,
        asset_inventory,
        wiring_health,
        wiring_foreign_keys,
    ],
    asset_checks=[wiring_zero_orphan_checks, wiring_foreign_keys_validated],
    jobs=[
        discovery_inventory_job,
        wiring_health_job,
        discovery_wiring_backfill,
        wiring_constraints_job,
    ],
    sensors=[
        tenant_engagement_sensor,
        pending_imports_sensor,
        wiring_check_alert_sensor,
        wiring_health_after_backfill,
    ],
    schedules=[nightly_wiring_health],
    resources={"wiring_db": WiringDatabase()},
)
