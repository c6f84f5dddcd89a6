"""Sensors that keep the pipeline's partitions and runs in step with the database.

Both read the database in a short transaction of their own and ask Dagster for nothing
they asked for before: partitions are added only when new, and runs carry a run key per
import, so a tick repeated after a crash requests nothing twice.

Both stay far inside the daemon's 60 s budget however many engagements there are (DESIGN
4b): the daemon spends about 10 ms per partition it is asked to add and about 0.3 s per run
it creates, so each tick asks for a bounded number and the rest follows on the next ticks.
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
from wiring_pipeline.domain.core.tenancy import list_partition_keys
from wiring_pipeline.domain.ingest.loading import pending_imports
from wiring_pipeline.resources import WiringDatabase

#: Partitions added per tick; ten thousand new engagements are onboarded in 20 ticks.
PARTITIONS_PER_TICK = 500
#: Runs requested per tick; the run queue drains slower than this anyway.
RUNS_PER_TICK = 10
#: Keys named in a log line; the rest are counted.
LOGGED_KEYS = 10


def _some(keys: list[str]) -> str:
    shown = ", ".join(keys[:LOGGED_KEYS])
    return shown if len(keys) <= LOGGED_KEYS else f"{shown}, … ({len(keys)} in all)"


@sensor(minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def tenant_engagement_sensor(context: SensorEvaluationContext, wiring_db: WiringDatabase):
    """Add a `tenant_engagements` partition for new engagements, `PARTITIONS_PER_TICK` a tick.

    The known partitions are read once per tick and compared as a set: what was added by
    an earlier tick is known and never requested again.
    """
    with wiring_db.transaction() as conn:
        keys = list_partition_keys(conn)
    known = set(context.instance.get_dynamic_partitions(tenant_engagements.name))
    new = [key for key in keys if key not in known]
    if not new:
        return SkipReason(f"all {len(keys)} engagements already have a partition")
    batch = new[:PARTITIONS_PER_TICK]
    context.log.info(
        f"adding {len(batch)} of {len(new)} new partitions: {_some(batch)}"
        + (f"; {len(new) - len(batch)} follow on the next ticks" if len(new) > len(batch) else "")
    )
    return SensorResult(dynamic_partitions_requests=[tenant_engagements.build_add_request(batch)])


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
    them); a pending import of another engagement waits for its partition. At most about
    `RUNS_PER_TICK` runs a tick, whole partitions at a time, going round the partitions in
    key order: the cursor is the last partition requested, and the next tick starts after
    it (from the first again once past the last), so every pending import gets its turn.
    """
    with wiring_db.transaction() as conn:
        pending = pending_imports(conn)
    known = set(context.instance.get_dynamic_partitions(tenant_engagements.name))
    by_partition: dict[str, list] = {}
    for key, import_id in pending:
        by_partition.setdefault(key, []).append(import_id)
    waiting = sorted(key for key in by_partition if key not in known)
    if waiting:
        context.log.info(f"pending imports wait for partitions: {_some(waiting)}")
    ready = sorted(key for key in by_partition if key in known)
    if not ready:
        return SkipReason("no pending imports in a known partition")
    after = context.cursor or ""
    ordered = [key for key in ready if key > after] + [key for key in ready if key <= after]
    requests: list[RunRequest] = []
    for key in ordered:
        if requests and len(requests) + len(by_partition[key]) > RUNS_PER_TICK:
            break
        requests += [
            RunRequest(run_key=import_run_key(import_id), partition_key=key)
            for import_id in by_partition[key]
        ]
    return SensorResult(run_requests=requests, cursor=requests[-1].partition_key)
