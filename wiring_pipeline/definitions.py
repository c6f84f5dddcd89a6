"""The code location: the Dagster objects of every concept folder of `defs/`, composed.

Each concept (`defs/<concept>/definitions.py`) lists its own assets, checks, jobs, sensors
and schedules; this module merges them and binds the one resource they share.
"""

from dagster import Definitions

from wiring_pipeline.defs.backfill import definitions as backfill
from wiring_pipeline.defs.constraints import definitions as constraints
from wiring_pipeline.defs.discovery import definitions as discovery
from wiring_pipeline.defs.health import definitions as health
from wiring_pipeline.resources import WiringDatabase

# The concepts are imported as modules: Dagster refuses a code location module that holds
# more than one Definitions object at module scope.
defs = Definitions.merge(
    discovery.defs,
    health.defs,
    backfill.defs,
    constraints.defs,
    Definitions(resources={"wiring_db": WiringDatabase()}),
)
