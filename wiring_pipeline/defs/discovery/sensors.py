"""Sensors that keep the pipeline's partitions and runs in step with the database.

Both read the database in a short transaction of their own and ask Dagster for nothing
they asked for before: partitions are added only when new, and runs carry a run key per
import, so a tick repeated after a crash requests nothing twice.
"""

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from wiring_pipeline.defs.discovery.jobs import discovery_inventory_job
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.loading import pending_imports
from wiring_pipeline.domain.tenancy import list_partition_keys
from wiring_pipeline.resources import WiringDatabase


@sensor(minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def tenant_engagement_sensor(context: SensorEvaluationContext, wiring_db: WiringDatabase):
    """Add a `tenant_engagements` partition for every engagement with a valid key."""
    with wiring_db.transaction() as conn:
        keys = list_partition_keys(conn)
    known = set(context.instance.get_dynamic_partitions(tenant_engagements.name))
    new = [key for key in keys if key not in known]
    if not new:
        return SkipReason(f"all {len(keys)} engagements already have a partition")
    context.log.info(f"adding partitions: {', '.join(new)}")
    return SensorResult(dynamic_partitions_requests=[tenant_engagements.build_add_request(new)])


def import_run_key(data_import_id) -> str:
    return f"import:{data_import_id}"


@sensor(
    job=discovery_inventory_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
)
def pending_imports_sensor(context: SensorEvaluationContext, wiring_db: WiringDatabase):
    """Request a run of `discovery_inventory_job` for each pending import's partition.

    Only partitions that exist already are requested (`tenant_engagement_sensor` adds
    them); a pending import of another engagement waits for its partition.
    """
    with wiring_db.transaction() as conn:
        pending = pending_imports(conn)
    known = set(context.instance.get_dynamic_partitions(tenant_engagements.name))
    requests = [
        RunRequest(run_key=import_run_key(import_id), partition_key=key)
        for key, import_id in pending
        if key in known
    ]
    waiting = sorted({key for key, _ in pending if key not in known})
    if waiting:
        context.log.info(f"pending imports wait for partitions: {', '.join(waiting)}")
    if not requests:
        return SkipReason("no pending imports in a known partition")
    return SensorResult(run_requests=requests)
