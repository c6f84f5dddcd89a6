"""Everything of the constraints concept, for `wiring_pipeline/definitions.py` to compose."""

from dagster import Definitions

from wiring_pipeline.defs.constraints.assets import wiring_foreign_keys
from wiring_pipeline.defs.constraints.checks import wiring_foreign_keys_validated
from wiring_pipeline.defs.constraints.jobs import wiring_constraints_job

defs = Definitions(
    assets=[wiring_foreign_keys],
    asset_checks=[wiring_foreign_keys_validated],
    jobs=[wiring_constraints_job],
)
