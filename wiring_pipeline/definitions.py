"""The code location: the Dagster objects of every concept folder of `defs/`, composed.

Each concept (`defs/<concept>/definitions.py`) lists its own assets, checks, jobs, sensors
and schedules; this module merges them and binds the one resource they share.
"""

from dagster import Definitions

from wiring_pipeline.defs.backfill.definitions import defs as backfill
from wiring_pipeline.defs.constraints.definitions import defs as constraints
from wiring_pipeline.defs.discovery.definitions import defs as discovery
from wiring_pipeline.defs.health.definitions import defs as health
from wiring_pipeline.resources import WiringDatabase

defs = Definitions.merge(
    discovery,
    health,
    backfill,
    constraints,
    Definitions(resources={"wiring_db": WiringDatabase()}),
)
