"""Everything of the discovery concept, for `wiring_pipeline/definitions.py` to compose."""

from dagster import Definitions

from wiring_pipeline.defs.discovery.assets import (
    asset_inventory,
    cleansed_import_records,
    raw_import_records,
)
from wiring_pipeline.defs.discovery.jobs import discovery_inventory_job
from wiring_pipeline.defs.discovery.sensors import pending_imports_sensor, tenant_engagement_sensor

defs = Definitions(
    assets=[raw_import_records, cleansed_import_records, asset_inventory],
    jobs=[discovery_inventory_job],
    sensors=[tenant_engagement_sensor, pending_imports_sensor],
)
