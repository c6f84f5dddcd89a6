"""Everything of the backfill concept, for `wiring_pipeline/definitions.py` to compose."""

from dagster import Definitions

from wiring_pipeline.defs.backfill.jobs import discovery_wiring_backfill
from wiring_pipeline.defs.backfill.sensors import wiring_health_after_backfill

defs = Definitions(jobs=[discovery_wiring_backfill], sensors=[wiring_health_after_backfill])
